"""Short second-person insults the rules name (issue 12: recall on insults that address someone),
and the everyday replies that share their words and must stay unflagged."""

from __future__ import annotations

import pytest

from bot.core.ad_hominem import AdHominemDetector
from bot.core.language import analyse
from tests.builders import message

DETECT_AT = 0.6  # the professional preset's threshold


def _finding(text: str) -> tuple[float, str]:
    finding = AdHominemDetector().judge(message("b", text, reply_to_author="a"), {}, "a")
    return (finding.score, finding.cue) if finding else (0.0, "")


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("you moron lol", "name_calling"),
        ("you egotistic prick!", "name_calling"),
        ("You dumb fuck, read the thread.", "name_calling"),
        ("you're scum", "name_calling"),
        ("you are a waste of space", "name_calling"),
        ("you're a lying piece of shit", "name_calling"),
        ("You're just a competitive idiot.", "name_calling"),
        ("you are such a right wing extremist!", "name_calling"),
        ("What an idiot you are.", "name_calling"),
        ("morons like you ruin every thread", "name_calling"),
        ("you sad little man", "name_calling"),
        ("you're ugly", "character"),
        ("you're so full of yourself", "character"),
        ("You're a nasty, vindictive person.", "character"),
        ("you're the worst human being", "character"),
        ("Are you really this dense?", "name_calling"),
        ("are you high?", "name_calling"),
        ("how stupid are you", "competence"),
        ("you can't be this dumb", "competence"),
        ("You're clearly not smart enough for this discussion.", "competence"),
        ("You have the reasoning skills of a toddler.", "competence"),
        ("You wouldn't know a confounder if it bit you.", "competence"),
        ("grow a brain", "competence"),
        ("what's wrong with you", "character"),
        ("what the hell is wrong with you?", "character"),
        ("There must be something wrong with you.", "character"),
        ("you make me sick", "character"),
        ("shut your mouth", "dismissal"),
        ("shut the fuck up", "dismissal"),
        ("Pipe down, nobody respects you.", "dismissal"),
        ("nobody likes you", "dismissal"),
        ("Nobody cares what a fool like you thinks.", "name_calling"),
        ("Why are you even here?", "dismissal"),
        ("Go back to whatever hole you crawled out of.", "dismissal"),
        ("you suck", "dismissal"),
        ("cope harder", "dismissal"),
        ("Who are you to tell me what to eat?", "credentials"),
        ("what kind of expert are you?", "credentials"),
        ("stop lying", "motives"),
        ("Spoken like a true corporate lackey.", "sarcasm"),
        ("ok boomer", "sarcasm"),
    ],
)
def test_a_short_insult_at_the_person_addressed_is_named(text: str, category: str) -> None:
    score, cue = _finding(text)
    assert score >= DETECT_AT
    assert cue == category


@pytest.mark.parametrize(
    "text",
    [
        # Denied, reported, quoted.
        "you're not a bad person for asking",
        "I'm not saying you suck, you just had a bad day",
        "he said nobody likes you, which is rubbish",
        '"shut your mouth" is what my gran used to say',
        "Is saying RIP to a ghost a blunt way of telling them to shut up?",
        # Kind words in the same frames.
        "you're a good person",
        "you're a people person",
        "you're the best person for this job",
        "there's nothing wrong with you",
        "you have the patience of a saint",
        "spoken like a true friend",
        # Friendly swearing and teasing.
        "you lucky bastard, congrats",
        "you absolute legend",
        "you're so annoying lol love you",
        "stop lying down on the job lol",
        # The same words about things, or in questions that ask.
        "what's wrong with your code? it fails on line 3",
        "is something wrong with your mic?",
        "what kind of coffee are you drinking",
        "who are you going to vote for",
        "are you high up in the org?",
        "How do you even start conversations with big youtubers?",
        "the trash talk in this thread is hilarious",
        "you're a huge fan of clowns, admit it",
        "nobody cares what the committee decides",
        "stay mad at the weather",
        "kids grow up so fast",
        "let the adults talk about it with the teacher",
        # Self-deprecation.
        "I'm such an idiot, I forgot the file",
    ],
)
def test_the_same_words_in_a_civil_reply_are_not_an_attack(text: str) -> None:
    assert _finding(text)[0] < DETECT_AT


def test_a_dismissal_is_not_read_as_a_denial() -> None:
    # "Nobody ..." denies an attack in "nobody thinks you're lazy", not in "nobody asked you".
    assert analyse("nobody thinks you're lazy").cues == ()
    assert analyse("nobody thinks you're lazy").negated_attacks >= 1
    asked = analyse("nobody asked you, clown")
    assert {cue.category for cue in asked.cues} == {"name_calling", "dismissal"}
    assert asked.negated_attacks == 0


def test_new_names_count_only_when_addressed() -> None:
    # Words that name a person only when said to them are not untargeted insults (the trained
    # tiers' feature) and are not read at a comma or about someone absent.
    assert analyse("take out the trash").untargeted_insults == 0
    assert analyse("the food was fine, garbage.").cues == ()
    assert analyse("he's a lowlife").absent_insult == ""


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Get lost.", "dismissal"),
        ("Please just get lost", "dismissal"),
        ("Keep telling yourself that.", "sarcasm"),
        ("Sure, keep telling yourself that", "sarcasm"),
        ("Use your brain for once.", "competence"),
        ("Your brain must be fried.", "competence"),
        ("your tiny brain can't cope with nuance", "competence"),
        ("Have you even treated a patient?", "competence"),
        ("Have you ever actually read the paper?", "competence"),
        ("have you ever read a book?", "competence"),
        ("typical redditor", "people_like_you"),
    ],
)
def test_the_jabs_in_these_frames_are_still_named(text: str, category: str) -> None:
    score, cue = _finding(text)
    assert score >= DETECT_AT
    assert cue == category


@pytest.mark.parametrize(
    "text",
    [
        # The generic "you" of a description: nobody is told anything.
        "When you stand up too fast, your brain briefly gets less blood.",
        "Your brain fills in the gap where the optic nerve is.",
        "Half the interns would love to get lost in the archive for a week.",
        "If you get lost on the way, call the front desk.",
        "It's the story you keep telling yourself until you believe it.",
        # Questions a colleague asks in earnest.
        "Have you ever seen a case like this in an adult?",
        "Have you ever treated a patient on both drugs at once?",
        "Have you ever worked with the new scanner?",
        # About a site, not its people.
        "Typical reddit: the joke thread gets more votes than the answer.",
    ],
)
def test_generic_you_and_earnest_questions_are_not_attacks(text: str) -> None:
    assert _finding(text)[0] < DETECT_AT


@pytest.mark.parametrize(
    "text",
    [
        "Anyone who disagrees is an idiot.",
        "People who think otherwise are delusional.",
        "Whoever says that is clueless.",
        "Anyone who still believes that is a bad person.",
        "Only a stupid person would argue that.",
        "Only people who are really dumb think the trial was rigged.",
        "A claim like that could only be made by an ignorant person.",
        "How could anyone be so uneducated as to ask that?",
    ],
)
def test_naming_whoever_holds_the_other_view_is_an_attack(text: str) -> None:
    # In a debate the holder of the other view is the person being answered.
    assert _finding(text)[0] >= DETECT_AT


@pytest.mark.parametrize(
    "text",
    [
        "Anyone who says that is wrong, and here is the trial that shows it.",
        "People who can't sleep are often anxious.",
        "Only those who are ignorant of the history repeat it.",
        "People who think the dose is safe are ignorant of the newer data.",
        "Not everyone who disagrees is an idiot.",
        "I'm not saying anyone who disagrees is an idiot.",
        "He said anyone who disagrees is an idiot, which is unfair.",
        "Only people who are qualified can sign the form.",
    ],
)
def test_disagreement_in_the_same_frames_is_not_an_attack(text: str) -> None:
    assert _finding(text)[0] < DETECT_AT


def test_a_judgement_of_the_idea_inside_the_clause_is_not_one_of_its_holder() -> None:
    assert _finding("Anyone who says this approach is dumb hasn't tried it.")[0] < DETECT_AT
    assert _finding("People who think the guideline is useless have not read it")[0] < DETECT_AT
    assert _finding("Anyone who disagrees with me is an idiot, frankly.")[0] >= DETECT_AT
