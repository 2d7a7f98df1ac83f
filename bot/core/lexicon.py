"""Word lists and phrase patterns the language analysis is built from. Data, not logic.

Words are matched whole after normalisation, and tolerate stretched letters ("stuupid"). Clinical
terms ("paranoid", "psychotic", "narcissistic") are here: they count only when said *of the person
addressed* ("you're paranoid"), never about a case or a condition ("the patient was paranoid").
"""

from __future__ import annotations

# Nouns that call someone a name.
NAME_NOUNS = (
    "idiot", "moron", "imbecile", "fool", "clown", "troll", "shill", "hack", "quack", "fraud",
    "charlatan", "liar", "loser", "dumbass", "jackass", "asshole", "arsehole", "dick", "prick",
    "cunt", "bitch", "twat", "wanker", "tool", "retard", "cretin", "halfwit", "dimwit", "nitwit",
    "numbskull", "buffoon", "crank", "grifter", "coward", "hypocrite", "bigot", "racist", "sexist",
    "snowflake", "sheep", "incel", "muppet", "donkey", "pillock", "joke", "clown", "amateur",
    "simpleton", "dunce", "ignoramus", "sociopath", "psychopath", "narcissist", "child", "baby",
    "bozo", "weirdo", "creep", "scumbag", "dipshit", "douche", "douchebag", "fanboy", "zealot",
    "weasel", "sellout",
)  # fmt: skip

# Adjectives that describe a person's mind or character (not an argument's quality).
PERSON_ADJECTIVES = (
    "stupid", "dumb", "ignorant", "clueless", "incompetent", "idiotic", "moronic", "brainless",
    "thick", "dense", "dim", "delusional", "pathetic", "dishonest", "arrogant", "condescending",
    "smug", "disingenuous", "hypocritical", "lazy", "useless", "worthless", "insane", "crazy",
    "unhinged", "deranged", "paranoid", "psychotic", "narcissistic", "unqualified", "illiterate",
    "uneducated", "brainwashed", "gullible", "spineless", "pompous", "sanctimonious", "entitled",
    "bigoted", "evil", "disgusting", "vile", "retarded", "mental", "senile", "hysterical",
    "pretentious", "obtuse", "dense", "biased", "corrupt", "unprofessional", "embarrassing",
    "clueless", "inept", "ridiculous", "laughable", "full of shit", "out of your depth",
    "out of your mind", "a disgrace", "a danger to patients", "a liability", "unbelievably condescending",
)  # fmt: skip

# Who a message may talk *about* rather than to: "that guy", "the minister", "this referee". An
# insult with one of these as its subject is about someone absent (bot.core.language).
THIRD_PARTIES = (
    "guy", "guys", "man", "men", "woman", "women", "dude", "dudes", "bloke", "person", "people",
    "girl", "boy", "lady", "fella", "chap", "minister", "president", "senator", "governor",
    "mayor", "politician", "politicians", "ceo", "boss", "manager", "ref", "referee", "coach",
    "author", "writer", "journalist", "reporter", "host", "presenter", "player", "teacher",
    "professor", "judge", "cop", "officer", "leader", "chancellor", "mp", "candidate", "king",
    "queen", "prime minister", "owner", "landlord", "neighbour", "neighbor", "driver", "customer",
    "streamer", "youtuber", "influencer", "celebrity", "actor", "actress", "singer", "rapper",
    "government", "administration", "party", "secretary", "spokesman", "spokesperson",
)  # fmt: skip

# Said *to* the person, these call them a name too ("you're scum", "you lowlife", "you're a waste
# of space"). Kept apart from NAME_NOUNS because the trained tiers read how many NAME_NOUNS and
# PERSON_ADJECTIVES a message holds as a feature fixed at training time: words added here change
# what the rules name, not the models' inputs. They count only addressed ("you're ...", "you ...",
# "... like you"), never at a comma or about a third party.
ADDRESSED_NAMES = (
    "scum", "lowlife", "degenerate", "lunatic", "nutjob", "nutcase", "psycho", "maniac", "jerk",
    "freak", "traitor", "bully", "lackey", "stooge", "extremist", "murderer", "hater", "phony",
    "phoney", "fake", "dumb fuck", "dumbfuck", "stupid fuck", "piece of shit", "piece of crap",
    "piece of garbage", "piece of trash", "piece of work", "waste of space", "waste of oxygen",
    "waste of air", "waste of skin", "waste of time", "embarrassment", "nobody", "trash",
    "garbage", "ass", "pos", "nut job", "dumb ass", "smartass", "smart ass", "know-it-all",
)  # fmt: skip

# Said of the person addressed ("you're ugly", "are you nuts?"), like PERSON_ADJECTIVES, and kept
# apart from them for the same reason as ADDRESSED_NAMES.
ADDRESSED_ADJECTIVES = (
    "ugly", "fat", "irrelevant", "braindead", "brain dead", "brain-dead", "nuts",
    "insufferable", "toxic", "petty", "nasty", "vindictive", "hateful", "despicable", "cruel",
    "weak", "creepy", "cringe", "cringey", "spiteful", "malicious", "deluded", "thick as a brick",
    "full of crap", "full of it", "full of yourself", "full of bs", "full of garbage", "beyond help",
    "a waste", "a fraud", "stupid as hell", "dumb as a rock", "dumb as rocks",
)  # fmt: skip

# Of a person in "you're a ___ person": character words too plain to count alone ("you're bad at
# chess", "you're mean to me") that are an attack when they describe the whole person.
PERSON_FAULTS = (
    "bad", "terrible", "horrible", "awful", "bitter", "jealous", "sad", "miserable", "mean", "rude",
    "sick", "angry", "worst", "dishonest", "shameless", "selfish", "small", "hateful", "nasty",
)  # fmt: skip

# Nouns of a person's mind or standing: "your ignorance", "your reading comprehension".
PERSONAL_NOUNS = (
    "stupidity", "ignorance", "incompetence", "arrogance", "brain", "brains", "iq", "intelligence",
    "reading comprehension", "comprehension", "ego", "bias", "agenda", "credentials", "degree",
    "phd", "qualifications", "hypocrisy", "dishonesty", "cowardice", "mental health", "head",
)  # fmt: skip

# What "your ..." may be about without being about the person.
IDEA_NOUNS = (
    "argument", "arguments", "claim", "claims", "point", "points", "logic", "paper", "study",
    "idea", "ideas", "position", "reasoning", "take", "analysis", "method", "methodology", "data",
    "proposal", "premise", "conclusion", "model", "code", "design", "numbers", "source", "sources",
    "citation", "example", "post", "comment", "question", "answer", "view", "theory", "plan",
)  # fmt: skip

PROFANITY = (
    "fuck", "fucking", "fucked", "fuckin", "shit", "shitty", "bullshit", "damn", "damned", "crap",
    "bloody", "bastard", "wtf", "ffs", "hell", "piss", "pissed", "arse", "goddamn", "christ", "dumbass",
)  # fmt: skip

# Warmth: a reply full of these is not pressure, however many arrive at once.
WARM_WORDS = (
    "congrats", "congratulations", "congratulation", "well deserved", "thanks", "thank you",
    "great", "amazing", "awesome", "brilliant", "legend", "proud", "love", "wonderful", "fantastic",
    "excellent", "good point", "fair point", "agree", "agreed", "+1", "well done", "bravo",
    "kudos", "helpful", "nice work", "good luck", "welcome", "happy for you", "so happy",
    "incredible", "superb", "deserved", "yay", "woohoo", "hugs", "thrilled", "<3",
)  # fmt: skip

# Conceding the other person's point: a reply that yields it is not attacking them, however it
# swears ("Holy shit, you're right"). Only the attack model's say is discounted for it: a named
# cue in the same message still counts in full.
CONCESSIONS = (
    "you're right", "you are right", "youre right", "you were right", "you're correct",
    "you are correct", "i stand corrected", "fair enough", "point taken", "good catch",
    "you've convinced me", "you convinced me", "i was wrong", "my mistake", "my bad",
)  # fmt: skip

# Disagreement with an idea: legitimate, but many at once on one person is pressure.
DISAGREE_WORDS = (
    "wrong", "incorrect", "disagree", "not true", "untrue", "misleading", "dangerous",
    "irresponsible", "nonsense", "flawed", "no evidence", "bullshit", "ridiculous", "absurd",
    "harmful", "false", "mistaken", "doesn't hold", "does not hold", "debunked", "outdated",
    "reckless", "unsafe", "not how", "that's not", "evidence says otherwise", "really?", "seriously",
    "malpractice", "negligent", "cherry-picking", "cherry picking", "anecdote", "citation needed",
)  # fmt: skip

IDENTITY_GROUPS = (
    "women", "men", "muslims", "jews", "christians", "immigrants", "foreigners", "black people",
    "blacks", "white people", "whites", "gays", "gay people", "trans people", "asians", "indians",
    "mexicans", "arabs", "africans", "disabled people", "old people", "boomers", "millennials",
)  # fmt: skip

# Politeness and framing markers (Danescu-Niculescu-Mizil et al. 2013, "A computational approach
# to politeness"; used by Zhang et al. 2018, "Conversations Gone Awry"), read by the forecast.
GRATITUDE = (
    "thanks", "thank you", "thank", "thx", "appreciate", "appreciated", "grateful", "cheers",
)  # fmt: skip
GREETINGS = ("hi", "hello", "hey", "greetings", "morning", "evening", "howdy", "welcome")
PLEASE = ("please", "pls", "plz")
APOLOGY = (
    "sorry", "apologies", "apologise", "apologize", "apologised", "apologized", "my bad",
    "excuse me", "forgive me",
)  # fmt: skip
HEDGES = (
    "i think", "i believe", "i guess", "i suppose", "i feel", "i'd say", "i would say",
    "perhaps", "maybe", "probably", "possibly", "might", "seems", "seem", "likely", "somewhat",
    "arguably", "in my opinion", "imo", "imho", "not sure", "could be", "sort of", "kind of",
    "tend to", "i wonder", "presumably", "apparently",
)  # fmt: skip
# "Factuality": stating one's view as plain fact, a sign of negative politeness.
FACTUALITY = (
    "in fact", "actually", "the fact", "the point is", "the reality", "the truth", "obviously",
    "clearly", "of course", "simply",
)  # fmt: skip
# A message opening on one of these goes straight at the point ("So ...", "But ...").
DIRECT_STARTS = ("so", "then", "and", "but", "or", "well", "no", "nope", "wrong")
FIRST_PERSON_STARTS = ("i", "i'm", "im", "i've", "i'd", "i'll", "my", "me")
