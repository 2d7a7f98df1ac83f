"""Phrase patterns for attacks on the person, each with the words that must occur for it to run.

Data, not logic. A pattern runs only when one of its trigger words is among the message's words:
this keeps the analysis fast (most messages trigger few patterns). Patterns run on normalised text
with quotations removed; ``NAME`` and ``ADJECTIVE`` tolerate stretched letters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.core import lexicon


def stretchy(word: str) -> str:
    """A pattern for ``word`` that tolerates stretched letters and flexible spaces."""
    parts = []
    for run in re.finditer(r"(.)\1*", word):
        char, length = run.group(1), len(run.group(0))
        if char == " ":
            parts.append(r"\s+")
        elif char.isalpha():  # "ass" must not match "as", but "stuupid" matches "stupid"
            parts.append(re.escape(char) + ("+" if length == 1 else "{2,}"))
        else:
            parts.append(re.escape(run.group(0)))
    return "".join(parts)


def any_of(words: Iterable[str]) -> str:
    """An alternation of ``words``, longest first, each stretch-tolerant."""
    unique = sorted(set(words), key=len, reverse=True)
    return "(?:" + "|".join(stretchy(word) for word in unique) + ")"


NAME = any_of(lexicon.NAME_NOUNS)
ADJECTIVE = any_of(lexicon.PERSON_ADJECTIVES)
# What may be said *to* the person: the names and adjectives above and those that count only
# when addressed (lexicon.ADDRESSED_NAMES, ADDRESSED_ADJECTIVES).
ADDRESSED_NAME = any_of(lexicon.NAME_NOUNS + lexicon.ADDRESSED_NAMES)
ADDRESSED_ADJECTIVE = any_of(lexicon.PERSON_ADJECTIVES + lexicon.ADDRESSED_ADJECTIVES)
# A name that is the first half of a compound is not one: "trash talk", "clown show", "joke fan".
_NOT_COMPOUND = (
    r"(?!')(?!\s+(?:show|shows|talk|talking|fan|fans|can|bin|fire|panda|heap|tier|level))"
)
YOU = "you you're youre ur u ya"

_YOU_ARE = (
    r"(?:you(?:'re|re|\s+are|\s+were|\s+r)|ur|u\s+r|u\s+are|ya\s+are|you\s+(?:sound|seem|look|"
    r"come\s+across|act|must\s+be|might\s+be|are\s+being|have\s+been|'ve\s+been)(?:\s+as|\s+like)?)"
)
# Stretch-tolerant too: "you are sooo stupid" is as much an attack as "you are so stupid".
_FILLERS = any_of(
    [
        "such",
        "a",
        "an",
        "the",
        "one",
        "some",
        "total",
        "complete",
        "absolute",
        "real",
        "utter",
        "fucking",
        "bloody",
        "little",
        "big",
        "so",
        "really",
        "just",
        "clearly",
        "obviously",
        "literally",
        "being",
        "actual",
        "quite",
        "pretty",
        "very",
        "truly",
        "genuinely",
        "unbelievably",
        "incredibly",
        "fairly",
        "kind of",
        "bit of",
        "too",
        "damn",
        "that",
        "this",
        "even",
        "freaking",
        "fuckin",
        "super",
        "extremely",
        "seriously",
        "most",
        "kinda",
        "basically",
        "simply",
        "rather",
        "like",
    ]
)
_OCCUPATION = (
    r"(?:doctor|scientist|engineer|researcher|expert|nurse|professional|clinician|physician|gp|"
    r"academic|professor|developer|dev|surgeon|resident|epidemiologist|statistician|therapist)"
)
# One word describing a person before a name ("a competitive idiot", "a right wing extremist"):
# anything but the small words that would carry the name off into another phrase ("a fan of
# clowns").
_DESCRIBING = (
    r"(?!(?:of|for|with|to|in|on|at|and|or|the|like|about|than|from|by|as|not|no)\b)[a-z][a-z\-]*"
)
_VOCATIVE_ADJECTIVES = (
    r"(?:fucking|bloody|absolute|complete|total|little|pathetic|arrogant|smug|utter|sad|silly|"
    + ADJECTIVE
    + ")"
)

# (category, weight, trigger words, pattern)
# Openings that several attack patterns begin with. A pattern made of an opening and more can
# match only where the opening alone matches, so the analysis searches once for each opening and
# runs those patterns only from where it first matches, or not at all (bot.core.language checks
# which patterns truly begin with one).
OPENINGS = (r"\b" + _YOU_ARE, r"\b(?:you|ya|u)\s+", r"\b(?:you|u)\s+")

ATTACKS: tuple[tuple[str, float, str, str], ...] = (
    ("name_calling", 0.9, YOU,
     r"\b" + _YOU_ARE + r"(?P<neg>\s+not|n't|\s+never|\s+no)?(?:\s+" + _FILLERS
     + r")*(?:\s+(?:a|an)(?:\s+" + _DESCRIBING + r"){1,2})?\s+(?P<name>" + ADDRESSED_NAME
     + r")s?\b" + _NOT_COMPOUND),
    ("character", 0.8, YOU,
     r"\b" + _YOU_ARE + r"(?P<neg>\s+not|n't|\s+never)?(?:\s+" + _FILLERS + r")*\s+(?P<adj>"
     + ADDRESSED_ADJECTIVE + r")\b"),
    # "You're a nasty, vindictive person", "you're the worst human being".
    ("character", 0.8, YOU,
     r"\b" + _YOU_ARE + r"(?P<neg>\s+not|n't|\s+never)?(?:\s+" + _FILLERS + r")*\s+(?:a|an|the|one)"
     r"(?:\s+(?:most|least|single|truly|really|very))?(?:\s+" + _DESCRIBING + r",?){0,2}\s+(?P<adj>"
     + ADDRESSED_ADJECTIVE + r"|" + any_of(lexicon.PERSON_FAULTS) + r"),?(?:\s+" + _DESCRIBING
     + r")?\s+(?:little\s+|old\s+)?(?:person|human(?:\s+being)?|individual|man|woman|excuse\s+for"
     r"\s+an?\s+\w+)\b"),
    ("name_calling", 0.9, "you ya u",
     r"\b(?:you|ya|u)\s+(?:(?:" + _VOCATIVE_ADJECTIVES + r"|[a-z\-]+(?:ic|ed|ous|ful|less|ish|ive|"
     r"ing|est))\s+){0,3}(?P<name>" + ADDRESSED_NAME + r")s?(?=\s*(?:[,.!?;:]|$|\s+(?:who|that|with|"
     r"for|lol|lmao|lmfao|haha\w*|smh|ffs|rofl|omg)\b))"),
    # "You sad little man.", "you pathetic old troll": a diminishing form of address.
    ("name_calling", 0.8, "you ya u",
     r"\b(?:you|ya|u)\s+(?:" + _VOCATIVE_ADJECTIVES + r"|" + any_of(lexicon.PERSON_FAULTS)
     + r")\s+(?:little|old)\s+(?:man|boy|girl|person|thing|creature|kid)\b(?=\s*(?:[,.!?;:]|$))"),
    ("name_calling", 0.85, "are r",
     r"\b(?:are|r)\s+(?:you|u)\s+(?:" + _FILLERS + r"\s+)*(?:(?P<name>" + ADDRESSED_NAME
     + r")|(?P<adj>" + ADDRESSED_ADJECTIVE + r"|(?:high|drunk|on\s+(?:drugs|crack))(?=\s*(?:[,.!?]|$|\s+or\b))))\b"),
    # "How stupid are you?", "how dumb can you be", "you can't be this stupid".
    ("competence", 0.8, "how can't cant cannot",
     r"\bhow\s+(?:" + _FILLERS + r"\s+)?(?P<adj>" + ADDRESSED_ADJECTIVE + r")\s+(?:are|can|could|"
     r"must|r)\s+(?:you|u)\b|\b(?:you|u)\s+(?:can't|cant|cannot)\s+(?:really\s+|seriously\s+)?be\s+"
     r"(?:this|that|so)\s+(?:" + ADDRESSED_ADJECTIVE + r")\b"),
    # "You're clearly not smart enough for this", "you're not bright enough to follow".
    ("competence", 0.75, YOU,
     r"\b" + _YOU_ARE + r"(?:\s+" + _FILLERS + r")*\s+not\s+(?:" + _FILLERS + r"\s+)?(?:smart|"
     r"bright|clever|intelligent|competent|qualified|experienced|mature|educated|good)\s+enough\b"),
    # "What an idiot you are."
    ("name_calling", 0.85, "what",
     r"\bwhat\s+(?:an?|a\s+complete|an\s+absolute|a\s+total)\s+(?:" + _VOCATIVE_ADJECTIVES
     + r"\s+)*(?P<name>" + ADDRESSED_NAME + r")\s+(?:you\s+are|you're|youre|u\s+are|u\s+r)\b"),
    # Animal names are insults only when said of the person: "rat model" and "snake venom" are
    # everyday words in the sciences, so these are not in the name-calling lexicon.
    ("name_calling", 0.8, YOU,
     r"\b" + _YOU_ARE + r"\s+(?:a|an|such\s+a|nothing\s+but\s+a)\s+(?:little\s+|lying\s+|sneaky\s+)?"
     r"(?P<name>snake|rat|parasite|leech|vulture|pig)s?\b(?=\s+(?:who|that)\b|\s*[,.!?;]|\s*$)"),
    ("name_calling", 0.85, "like",
     r"\b(?=(?:an?|such\s+an?)\s+[^.!?]{0,60}?\slike\s+(?:you|u|yourself)\b)(?:an?|such\s+an?)\s+(?:"
     + _VOCATIVE_ADJECTIVES + r"\s+)*(?P<name>" + ADDRESSED_NAME
     + r")s?\s+like\s+(?:you|u|yourself)\b|\b(?=[a-z\-]+s\s+like\s)(?:" + ADDRESSED_NAME
     + r")s\s+like\s+(?:you|u|yourself)\b"),
    ("name_calling", 0.8, "only",
     r"\bonly\s+(?:an?|some)\s+(?:" + _VOCATIVE_ADJECTIVES + r"\s+)*(?P<name>" + NAME
     + r")\s+would\b"),
    # Whoever holds the other view, named: "anyone who disagrees is an idiot", "people who think
    # otherwise are delusional", "only a stupid person would argue that", "how could anyone be so
    # ignorant". In a debate the holder of the other view is the person being answered. The name
    # must end the clause: in "anyone who says this idea is dumb hasn't tried it" it is the idea's.
    ("name_calling", 0.75, "anyone anybody everyone everybody whoever people those someone somebody",
     r"\b(?:(?:anyone|anybody|everyone|everybody|people|those|someone|somebody)\s+(?:who|that)|"
     r"whoever)\s+(?:(?:still|really|actually|seriously|honestly|even)\s+)?(?:says?|thinks?|"
     r"believes?|disagrees?|argues?|claims?|doesn't|don't|does\s+not|do\s+not|can't|cannot|"
     r"would|wants?|supports?|votes?)\b[^.!?;]{0,60}?\s(?:is|are|must\s+be)\s+(?:" + _FILLERS
     + r"\s+)*(?:(?P<name>" + NAME + r")s?|(?P<adj>" + ADJECTIVE + r")|(?:an?\s+)?"
     + any_of(lexicon.PERSON_FAULTS) + r"\s+(?:person|people|human\s+beings?))(?![\w'\-])(?=\s*(?:[,.!?;:)]|$|\s+(?:and|but|or|if|"
     r"because|lol|tbh|imo)\b))"),
    ("name_calling", 0.75, "only",
     r"\bonly\s+(?:people|those|someone|somebody|a\s+person)\s+(?:who|that)\s+(?:is|are)\s+(?:"
     + _FILLERS + r"\s+)*(?P<adj3>" + ADJECTIVE + r")\b(?!\s+(?:of|about)\b)|\bonly\s+(?:(?:an?|some|the)\s+)?(?:(?:really|truly|very|so)\s+)?(?P<adj>" + ADJECTIVE
     + r")\s+(?:person|people|man|woman|mind|minds|individuals?)\s+(?:would|could|think|thinks|"
     r"believe|believes|say|says)\b|\bcould\s+only\s+(?:ever\s+)?be\s+(?:made|said|written|"
     r"believed|argued)\s+by\s+(?:an?|some)\s+(?:(?P<adj2>" + ADJECTIVE + r")\s+(?:person|man|"
     r"woman|mind)|(?:" + _VOCATIVE_ADJECTIVES + r"\s+)*(?P<name>" + NAME + r"))\b"),
    ("competence", 0.75, "how",
     r"\bhow\s+(?:could|can|do(?:es)?)\s+(?:anyone|anybody|someone|somebody|a\s+person)\s+(?:be|"
     r"get)\s+(?:so|this|that)\s+(?P<adj>" + ADJECTIVE + r")\b"),
    # "What a clown." on its own: an exclamation about the person just answered. Not "what a
    # clown show", not "what an idiot I am".
    ("name_calling", 0.7, "what",
     r"(?:^|[.!?]\s+)what\s+(?:an?|a\s+complete|an\s+absolute|a\s+total)\s+(?:"
     + _VOCATIVE_ADJECTIVES + r"\s+)*(?P<name>" + NAME + r")\s*(?=[,.!?]|$)"),
    # A name said *to* the person, set off by a comma at the end of a sentence or before the rest
    # at the start: "Sure thing, clown.", "Learn to read, moron", "Idiot, read the paper." The
    # comma is what makes it a form of address rather than a word about someone else.
    ("name_calling", 0.8, " ".join(w for w in lexicon.NAME_NOUNS if " " not in w),
     r"(?<=,)\s*(?:you\s+)?(?:" + _VOCATIVE_ADJECTIVES + r"\s+)*(?P<name>" + NAME
     + r")s?\s*(?=[.!?]+(?:\s|$)|$)"),
    ("name_calling", 0.8, " ".join(w for w in lexicon.NAME_NOUNS if " " not in w),
     r"^(?:" + _VOCATIVE_ADJECTIVES + r"\s+)*(?P<name>" + NAME + r")(?=\s*[,!]\s+\w)"),
    ("character", 0.75, "your ur",
     r"\b(?:your|ur)\s+(?:sheer\s+|utter\s+|breathtaking\s+|staggering\s+|obvious\s+)?(?:stupidity|"
     r"ignorance|incompetence|arrogance|hypocrisy|dishonesty|cowardice|smugness|ego)\b"),
    ("competence", 0.75, "your ur",
     r"\b(?:your|ur)\s+(?:lack\s+of\s+)?(?:reading\s+comprehension|iq|intelligence|"
     r"(?:tiny|small|little|pea|smooth)\s+brains?)\b|\b(?:your|ur)\s+lack\s+of\s+(?:a\s+)?brains?\b|"
     r"\buse\s+(?:your|ur)\s+brains?\b|\b(?:your|ur)\s+brains?\s+(?:is|are|must\s+be)\s+(?:"
     r"(?:clearly|obviously|really|just)\s+)?(?:broken|fried|mush|rotten|damaged|empty|tiny|small|"
     r"smooth|running\s+on)\b"),
    ("competence", 0.75, "you u",
     r"\b(?:you|u)\s+(?:(?:clearly|obviously|really|just|simply|still|evidently|apparently|"
     r"genuinely)\s+)*(?:don't|do\s+not|dont|can't|cannot|cant|didn't|did\s+not|didnt|fail(?:ed)?\s+to|"
     r"never|couldn't|could\s+not)\s+(?:even\s+)?(?:understand|read|grasp|comprehend|follow|"
     r"bother\s+to\s+read|know\s+what\s+you're\s+talking|know\s+the\s+first\s+thing|have\s+a\s+clue|"
     r"think\s+before)\b"),
    ("competence", 0.75, "you",
     r"\byou\s+have\s+(?:no|zero|not\s+the\s+slightest|absolutely\s+no|literally\s+no)\s+(?:idea|"
     r"clue|understanding|business|credibility|knowledge|experience|training)\b"),
    ("competence", 0.75, "read reading",
     r"\b(?:learn|try|bother|able)\s+to\s+read\b|\breading\s+comprehension\b|\bdid\s+you\s+(?:even|"
     r"actually|bother\s+to)\s+read\b"),
    ("competence", 0.75, "even ever actually idea depth talking",
     r"(?<!how\s)\bdo\s+you\s+even\b|\bhave\s+you\s+(?:ever\s+)?(?:even|actually)\s+(?:read|opened|"
     r"seen\s+a|worked|treated|met\s+a)\b|\bhave\s+you\s+ever\s+(?:read|opened)\s+(?:a|one)\s+(?:book|"
     r"textbook|paper|study)(?=\s*(?:[?!.]|$))|\b(?:no|not\s+the\s+slightest)\s+idea\s+what\s+you(?:'re|\s+are)\b|\bout\s+"
     r"of\s+(?:your|ur)\s+depth\b|\bdon't\s+know\s+what\s+you(?:'re|\s+are)\s+talking\b"),
    ("competence", 0.7, "suit",
     r"\b(?:isn't|is\s+not|not)\s+(?:really\s+|exactly\s+|clearly\s+)?(?:your|ur)\s+strong\s+suit\b"),
    ("credentials", 0.8, "did how where call some real qualified cereal who lane",
     r"\b(?:where|how)\s+did\s+you\s+(?:get|buy|earn|find)\s+(?:your|ur)\s+(?:medical\s+)?(?:degree|"
     r"phd|license|licence|md|qualifications?|diploma|credentials|certification|job)\b|\bcall\s+"
     r"yourself\s+an?\b|\bsome\s+" + _OCCUPATION + r"\s+you\s+are\b|\byou(?:'re|\s+are)\s+(?:not|no)"
     r"\s+(?:even\s+)?(?:a\s+)?real\s+\w+|\bdid\s+you\s+(?:even\s+|actually\s+)?(?:finish|pass|go\s+"
     r"to|attend|complete|graduate)\b|\bcereal\s+box\b|\byou(?:'re|\s+are)\s+(?:not|un)\s*"
     r"qualified\b|\bhow\s+did\s+you\s+(?:ever\s+)?(?:pass|graduate|get\s+(?:hired|licensed|through|a"
     r"\s+licen[cs]e))\b|\bwho\s+(?:gave|let)\s+you\b|\bstay\s+in\s+your\s+lane\b"),
    # Fitness to practise: "you shouldn't be let near patients", "you should never be allowed to
    # prescribe". About the person's right to do their job, not about the claim.
    ("credentials", 0.8, "shouldn't should shouldnt oughtn't",
     r"\byou\s+(?:shouldn't|shouldnt|should\s+not|should\s+never|oughtn't|ought\s+not\s+to)\s+be\s+"
     r"(?:let|allowed|trusted|permitted)\s+(?:anywhere\s+)?(?:near|to\s+(?:practi[sc]e|treat|"
     r"prescribe|operate|teach|review|see\s+patients))\b"),
    ("credentials", 0.8, "worthless meaningless joke fake nothing",
     r"\b(?:your|ur)\s+(?:degree|phd|credentials|qualifications|license|licence|title|cv|"
     r"publications?|h-index|job\s+title)\s+(?:is|are|means?)\s+(?:worthless|meaningless|nothing|"
     r"a\s+joke|fake)\b"),
    ("credentials", 0.65, "fake so-called self-proclaimed self-appointed armchair wannabe",
     r"\b(?:fake|so-called|self-proclaimed|self-appointed|armchair|wannabe)\s+" + _OCCUPATION
     + r"s?\b"),
    ("motives", 0.7, "only just",
     r"\byou(?:'re|\s+are)?\s+(?:only|just)\s+(?:saying|defending|arguing|doing|posting|pushing|here)"
     r"\s+(?:this|that|it|because)\b|\byou(?:'re|\s+are)?\s+(?:only|just)\s+(?:want(?:ing)?|protecting|"
     r"promoting|covering\s+for)\s+(?:(?:this|that|it)\s+because\s+(?:your|ur|you're|you\s+are)\s|"
     r"(?:your|ur)\s+(?:own|buddy|buddies|friends?|mates?|boss|employer|sponsor|career)\b)"),
    ("motives", 0.7, "shill shilling paid pocket payroll agenda motive motives faith says because",
     r"\b(?:shill|shilling|paid\s+(?:by|off|to\s+say)|in\s+the\s+pocket\s+of|on\s+the\s+payroll)\b|"
     r"\b(?:your|ur)\s+(?:real\s+|hidden\s+)?(?:agenda|motives?|ulterior\s+motives?)\b|\bbad\s+faith"
     r"\b|\bsays\s+the\s+(?:guy|person|man|woman|one)\s+who\b|\bbecause\s+your\s+name\s+is\s+on\b"),
    ("motives", 0.7, "you you're",
     r"\byou\s+(?:don't|do\s+not|dont)\s+(?:want|care\s+about)\s+(?:a\s+|the\s+)?(?:discussion|"
     r"debate|truth|patients|facts|evidence|science|to\s+learn)\b|\byou(?:'re|\s+are)\s+(?:lying|"
     r"trolling|arguing\s+in\s+bad\s+faith)\b|\byou\s+(?:just\s+)?want\s+(?:to\s+(?:win|be\s+right|"
     r"feel|sound)|attention|a\s+fight|a\s+\w+\s+measuring)\b"),
    ("people_like_you", 0.85, "like people kind",
     r"\b(?:people|folks|guys|men|women|those|someone|somebody|anyone|idiots|types)\s+like\s+(?:you|u)"
     r"\b|\b(?:you|u)\s+people\b|\b(?:your|ur)\s+kind\b"),
    ("people_like_you", 0.85, "typical all",
     r"\btypical\s+(?:\w+\s+)?(?:" + _OCCUPATION + r"|student|liberal|conservative|leftist|lefty|"
     r"republican|democrat|boomer|millennial|male|man|woman|american|manager|pharma|med\s+student|"
     r"redditor)s?\b|\ball\s+you\s+\w+s\s+(?:are|think|do)\b"),
    ("sarcasm", 0.65, "bless nice wow oh try genius",
     r"\bbless\s+(?:your|ur)\s+(?:heart|soul)\b|\bnice\s+try\b|\b(?:wow|oh),?\s+(?:what\s+a|such\s+a|"
     r"you're\s+a|a\s+real)\s+(?:genius|expert|scholar|einstein)\b"),
    ("sarcasm", 0.65, "truly clearly obviously resident",
     r"\b(?:truly|clearly|obviously)\s+(?:the|a|an|our)\s+(?:genius|visionary|expert|einstein|"
     r"mastermind|guru|prodigy)\b|\b(?:our|the)\s+resident\s+(?:genius|visionary|expert|scholar|"
     r"einstein|guru|know-it-all)\b"),
    ("sarcasm", 0.65, "ok okay sure yeah right",
     r"\b(?:ok|okay|sure|yeah|right),?\s+(?:little\s+)?(?:sweetie|sweetheart|honey|hun|buddy|champ|"
     r"kiddo|pal|sunshine|gurl|girl|boy|son)\b|\bok(?:ay)?\s+little\s+\w+"),
    ("sarcasm", 0.65, "i'll too mistook cute adorable sweet precious slowly small smaller",
     r"\bi'll\s+forgive\s+you\b|\btoo\s+much\s+to\s+(?:hope|ask)\s+for\b|\bmistook\s+you\s+for\b|"
     r"\b(?:cute|adorable|sweet|precious)\s+(?:that|how)\s+you\b|\blet\s+me\s+(?:type|explain|say)\s+"
     r"(?:this\s+|it\s+)?(?:slowly|simply|in\s+small\s+words)\b|\bsmall(?:er)?\s+words\b"),
    ("sarcasm", 0.65, "congrats congratulations thanks mansplaining lecture",
     r"\b(?:congrats|congratulations)\s+on\s+(?:missing|failing|not|completely)\b|\bthanks\s+for\s+"
     r"the\s+(?:mansplaining|lecture|ted\s*talk)\b"),
    ("sarcasm", 0.65, "einstein genius sherlock professor sweetie chief champ buddy kiddo",
     r",\s*(?:einstein|genius|sherlock|professor|sweetie|chief|champ|buddy|kiddo)\s*[.!?]*\s*$"),
    ("sarcasm", 0.6, "maybe go or whatever keep",
     r"\bmaybe\s+(?:read|try\s+reading|learn|open)\b[^.!?]{0,40}\b(?:first|before)\b|\bgo\s+back\s+to"
     r"\s+(?:school|med\s+school|class|kindergarten)\b|\bor\s+is\s+that\s+too\s+(?:much|hard|"
     r"difficult)\b|\bwhatever\s+helps\s+you\s+sleep\b|"
     r"(?:^|[.!?,;]\s*)(?:(?:yeah|sure|ok|okay|just|you)[,\s]+)*keep\s+telling\s+yourself\b"),
    ("dismissal", 0.65, "shut stfu gtfo lost away piss fuck screw off done worth asked cares who "
     "opinion opinions grow clue life grip",
     r"(?:^|[.!?,;:]\s*|\b(?:just|please|so|now|pls|go)\s+)get\s+lost\b|"
     r"\b(?:shut\s+up|stfu|gtfo|go\s+away|piss\s+off|fuck\s+off|fuck\s+you|screw\s+you|"
     r"f\s+off)\b|\b(?:i'm|im|i\s+am)\s+done\s+(?:talking|arguing|discussing|here|with\s+you)\b|\bnot"
     r"\s+worth\s+(?:my|anyone's|the)\s+time\b|\bnobody\s+(?:asked|cares\s+what)\s+you\b|\bwho\s+asked"
     r"\s+you\b|\bkeep\s+(?:your|ur)\s+opinions?\s+to\s+yourself\b|(?:^|[.!?,]\s*|\b(?:just|please|so|and|now|pls)\s+)grow\s+up\b|\bget\s+a\s+(?:clue|"
     r"life|grip)\b"),
    # Telling the person off: "shut your mouth", "pipe down", "nobody likes you", "why are you
    # even here?", "go back to whatever hole you crawled out of".
    ("dismissal", 0.7, "shut pipe keep go eat suck nobody no noone why let crawled talking",
     r"\bshut\s+(?:the\s+(?:fuck|hell|heck|f)\s+up|(?:your|ur)\s+(?:mouth|trap|face|pie\s*hole|"
     r"gob))\b|\bpipe\s+down\b|\bkeep\s+(?:your|ur)\s+mouth\s+shut\b|\bgo\s+to\s+hell\b|\beat\s+"
     r"shit\b|\b(?:you|u)\s+(?:really\s+|just\s+|seriously\s+)?suck\b|\b(?:nobody|no\s*one)\s+(?:here\s+"
     r"|(?:on|in)\s+(?:\w+\s+){1,2})?(?:ever\s+)?(?:asked\s+(?:for\s+)?(?:you|your|u|ur)|cares\s+(?:what|"
     r"about)\s+(?:you|u|your|ur)|likes\s+(?:you|u)|respects\s+(?:you|u)|wants\s+(?:you|your|u|ur)|"
     r"takes\s+(?:you|u)\s+seriously|gives\s+a\s+(?:shit|damn|fuck)\s+(?:about|what)\s+(?:you|u|"
     r"your|ur))\b|\bwhy\s+are\s+(?:you|u)\s+(?:even\s+)?(?:here|still\s+here|talking)\b|\blet\s+the"
     r"\s+(?:adults|grown-?ups|professionals|experts)\s+(?:talk|handle\s+(?:it|this))(?=\s*(?:[,.!?]|$))|\bcrawled\s+out\s+of\b|"
     r"\bgo\s+back\s+to\s+(?:your|ur|whatever)\s+(?:little\s+)?(?:cave|hole|basement|bridge|blog|"
     r"sandbox|playpen|bubble|echo\s+chamber|mom's\s+basement)\b|\btalking\s+to\s+(?:you|u)\s+is\s+"
     r"like\b"),
    # Taunts at the reader: "cope harder", "stay mad", "cry more".
    ("dismissal", 0.65, "cope seethe stay keep cry",
     r"\b(?:cope\s+(?:harder|more|and\s+seethe)|seethe|stay\s+mad|keep\s+crying|cry\s+(?:more|harder))"
     r"(?=\s*(?:[,.!?]|$|\s+(?:lol|lmao|bro|dude|kid|loser)\b))"),
    # "What's wrong with you?", "there must be something wrong with you".
    ("character", 0.7, "wrong",
     r"\bwhat(?:\s+the\s+(?:hell|fuck|heck|f))?(?:'s|s|\s+is)\s+(?:(?:the\s+)?(?:hell|fuck|heck|actually|"
     r"even)\s+)?wrong\s+with\s+(?:you|"
     r"u|ya)\b|\bsomething\s+(?:is\s+|'s\s+)?(?:(?:seriously|really|very|deeply)\s+)?wrong\s+with\s+"
     r"(?:you|u|ya)\b"),
    ("character", 0.7, "you u you're youre",
     r"\b(?:you|u)\s+(?:really\s+|truly\s+|honestly\s+)?(?:(?:disgust|sicken)\s+(?:me|us|everyone)|"
     r"embarrass\s+(?:yourself|everyone|the\s+whole|this))\b|\b(?:you're|you\s+are)\s+embarrassing\s+"
     r"yourself\b|\b(?:you|u)\s+make\s+me\s+(?:sick|want\s+to\s+(?:puke|vomit|"
     r"throw\s+up))\b"),
    ("motives", 0.7, "stop lie lied",
     r"\bstop\s+lying\b(?!\s+(?:down|around|in|on))|\b(?:you|u)\s+(?:always\s+|constantly\s+|just\s+)?(?:lie|lied)\s+(?:about|as|"
     r"all|constantly|through|again|every)\b"),
    # "Who are you to tell me...", "what kind of expert are you?"
    ("credentials", 0.75, "who what",
     r"\bwho\s+(?:the\s+(?:hell|fuck)\s+)?are\s+(?:you|u)\s+to\s+(?:tell|say|judge|lecture|talk|call|"
     r"decide)\b|\bwhat\s+kind\s+of\s+(?:an?\s+)?\w+\s+are\s+(?:you|u)\s*(?:[?!.,]|$)"),
    ("competence", 0.8, "have couldn't can't cant wouldn't grow get",
     r"\b(?:you|u)\s+have\s+the\s+(?:\w+\s+){0,2}?(?:skills?|iq|brain|brains|intelligence|attention"
     r"\s+span|memory|maturity|logic|manners|wit)\s+of\s+an?\b|\b(?:you|u)\s+(?:couldn't|could\s+not|"
     r"can't)\s+(?:\w+\s+){1,6}?to\s+save\s+(?:your|ur)\s+life\b|\bwouldn't\s+know\s+(?:an?|the)\s+"
     r"(?:\w+\s+){1,3}?if\s+(?:it|one)\s+(?:bit|hit|slapped|kicked)\s+(?:you|u)\b|\b(?:grow|get)\s+a"
     r"\s+(?:brain|spine)\b"),
    ("sarcasm", 0.65, "spoken spoken leave has quit ok okay",
     r"\bspoken\s+like\s+a\s+(?:true|real)\s+(?!(?:friend|gentleman|lady|hero|legend|champ|champion|"
     r"pro|professional|leader|fan|mate|scholar)\b)|\bthe\s+(?:expert|genius|professor|scholar)\s+has\s+"
     r"spoken\b|\bleave\s+(?:it|this|that|the\s+\w+)\s+to\s+the\s+(?:grown-?ups|adults|"
     r"professionals|experts)\b|\bquit\s+while\s+(?:you're|you\s+are)\s+behind\b|\bok(?:ay)?\s+boomer"
     r"\b"),
    ("threat", 0.9, "i i'll i'm watch you'll you kill hang kys hope know",
     r"\bi(?:'ll|\s+will|'m\s+going\s+to|\s+am\s+going\s+to|'m\s+gonna|\s+gonna)\s+(?:find|hurt|kill|"
     r"destroy|end|ruin|come\s+for)\s+you\b|\bwatch\s+(?:your|ur)\s+back\b|\byou(?:'ll|\s+will)\s+"
     r"regret\b|\b(?:kill|hang)\s+yourself\b|\bkys\b|\bhope\s+you\s+(?:die|get\s+(?:sued|fired|"
     r"struck|cancer|hit))\b|\bi\s+know\s+where\s+you\b"),
)  # fmt: skip

IDENTITY_ATTACK = (
    r"\b(?:all\s+|those\s+|these\s+|most\s+)?" + any_of(lexicon.IDENTITY_GROUPS)
    + r"\s+(?:are|r)\s+(?:all\s+|just\s+|so\s+)?(?:" + NAME + "|" + ADJECTIVE + r")"
)  # fmt: skip

# An insult about someone not addressed: "he's an idiot", "that guy is a clown", "the minister is
# a moron", "what a clown he is". Not an attack on a participant (bot.core.ad_hominem); a policy
# may alert moderators about it. Nouns that are literal of a third person ("she's a baby", "he's
# just a child", "an amateur") are left out; "they" takes only names, since adjectives after it
# are as often about things ("they're useless", said of tools).
_ABSENT_NAME = any_of(w for w in lexicon.NAME_NOUNS if w not in {"child", "baby", "amateur"})
_THIRD_PARTY = (
    r"(?:(?:that|this|the|these|those|our|their|his|her)\s+(?:[a-z'\-]+\s+)?"
    + any_of(lexicon.THIRD_PARTIES)
    + r")"
)
_IS = r"(?:'s|s|\s+is|\s+was|'re|\s+are|\s+were|\s+seems|\s+sounds|\s+looks|\s+must\s+be)"
_ABSENT_REST = r"(?P<neg>\s+not|n't|\s+never|\s+no)?(?:\s+" + _FILLERS + r")*\s+"
ABSENT_INSULT_TRIGGERS = "he he's hes she she's shes they they're theyre what " + " ".join(
    w for w in lexicon.THIRD_PARTIES if " " not in w
)
# Three forms, each its own pattern: "he/she/that guy is <name or adjective>", "they/those
# people are <names>", "what an idiot he is".
ABSENT_INSULTS = (
    r"\b(?:he|she|" + _THIRD_PARTY + r")" + _IS + _ABSENT_REST + r"(?:(?P<name>" + _ABSENT_NAME
    + r")s?|(?P<adj>" + ADJECTIVE + r"))(?![\w'\-])",
    r"\b(?:they|" + _THIRD_PARTY + r")" + _IS + _ABSENT_REST + r"(?P<name>" + _ABSENT_NAME
    + r")s?(?![\w'\-])",
    r"\bwhat\s+(?:an?|a\s+complete|an\s+absolute|a\s+total)\s+(?:" + _VOCATIVE_ADJECTIVES
    + r"\s+)*(?P<name>" + _ABSENT_NAME + r")\s+(?:he|she|they|" + _THIRD_PARTY
    + r")\s+(?:is|are|was|were)\b",
)  # fmt: skip
