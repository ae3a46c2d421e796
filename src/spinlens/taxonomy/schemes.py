"""The three technique schemes spinlens speaks, with definitions and examples written by the project.

Names are the exact strings of each scheme's official files (PTC's contain commas; SemEval-2021's contain
spaces, slashes and apostrophes). Colours are chosen so that techniques of one SemEval-2023 category share a hue.
"""

from __future__ import annotations

# SemEval-2023 Task 3 categories, in the order of its guidelines.
CATEGORIES: dict[str, str] = {
    "Attack on Reputation": "Argues against a person or group instead of their argument.",
    "Justification": "Supports a claim with an appeal (to authority, the crowd, fear, values, the nation) rather than evidence.",
    "Simplification": "Reduces a complex matter to a single cause, a single consequence or two options.",
    "Distraction": "Moves attention away from the matter at hand.",
    "Call": "Pushes the reader to act or to stop thinking, with a phrase rather than a reason.",
    "Manipulative Wording": "Chooses words to stir feelings, blur meaning or inflate, rather than to inform.",
}

# name -> (category, definition, example, colour)
SEMEVAL2023: dict[str, tuple[str, str, str, str]] = {
    "Name_Calling-Labeling": (
        "Attack on Reputation",
        "Gives the target a label the audience fears, hates or loves, in place of an argument.",
        "The so-called 'experts' of the Kiev regime met again.",
        "#e6194b",
    ),
    "Guilt_by_Association": (
        "Attack on Reputation",
        "Discredits a person or idea by linking it to someone or something the audience despises (Nazis, terrorists).",
        "That is exactly what Hitler said about the press.",
        "#f0506e",
    ),
    "Casting_Doubt": (
        "Attack on Reputation",
        "Questions the credibility of someone or something without evidence.",
        "Can we really trust a minister who never held a real job?",
        "#d62728",
    ),
    "Appeal_to_Hypocrisy": (
        "Attack on Reputation",
        "Attacks the target for hypocrisy (tu quoque) instead of answering the point.",
        "He lectures us on emissions, yet he flies a private jet.",
        "#ff7f7f",
    ),
    "Questioning_the_Reputation": (
        "Attack on Reputation",
        "Attacks the target's character or morals to undermine what they say.",
        "Her record of scandals speaks for itself.",
        "#b03a2e",
    ),
    "Flag_Waving": (
        "Justification",
        "Justifies an idea by appeal to the pride or interest of a nation or group.",
        "Every true patriot must stand behind this bill.",
        "#1f77b4",
    ),
    "Appeal_to_Authority": (
        "Justification",
        "Claims something is true because an authority or expert says so, without other evidence.",
        "Top scientists agree, so the matter is settled.",
        "#4363d8",
    ),
    "Appeal_to_Popularity": (
        "Justification",
        "Claims something is right because many or most people think or do it (bandwagon).",
        "Millions have already switched; do not be left behind.",
        "#42d4f4",
    ),
    "Appeal_to_Values": (
        "Justification",
        "Links an idea to values the audience holds dear (freedom, democracy, faith), without argument.",
        "This plan is about freedom, pure and simple.",
        "#469990",
    ),
    "Appeal_to_Fear-Prejudice": (
        "Justification",
        "Builds support by stoking fear of, or prejudice against, an outcome or group.",
        "If we do nothing, our cities will burn.",
        "#911eb4",
    ),
    "Causal_Oversimplification": (
        "Simplification",
        "Gives a single cause for an outcome that has many.",
        "Crime went up because the new mayor took office.",
        "#f58231",
    ),
    "False_Dilemma-No_Choice": (
        "Simplification",
        "Presents two options as the only ones, or one as the only way.",
        "Either you are with us or you are with the terrorists.",
        "#ffa94d",
    ),
    "Consequential_Oversimplification": (
        "Simplification",
        "Claims a first step will inevitably lead to a chain of (usually bad) consequences (slippery slope).",
        "Allow this today and tomorrow they will ban all speech.",
        "#e8a33d",
    ),
    "Straw_Man": (
        "Distraction",
        "Refutes a distorted version of the opponent's position as if it were the real one.",
        "My opponent wants to leave the country defenceless.",
        "#808000",
    ),
    "Red_Herring": (
        "Distraction",
        "Brings in an irrelevant matter to draw attention away from the point.",
        "Why talk about the budget when the opposition leader owns three houses?",
        "#9a9a2e",
    ),
    "Whataboutism": (
        "Distraction",
        "Answers a charge by pointing to the accuser's own (alleged) wrongs.",
        "And what about the wars your side started?",
        "#bcbd22",
    ),
    "Slogans": (
        "Call",
        "A short, striking phrase that may carry labelling and stereotyping.",
        "Make our country great again!",
        "#3cb44b",
    ),
    "Conversation_Killer": (
        "Call",
        "A phrase that discourages critical thought and ends the discussion (thought-terminating cliché).",
        "It is what it is.",
        "#2ca02c",
    ),
    "Appeal_to_Time": (
        "Call",
        "Argues that the time to act is now, urgency replacing reasons.",
        "The clock is ticking: act before it is too late.",
        "#76c893",
    ),
    "Loaded_Language": (
        "Manipulative Wording",
        "Words or phrases with strong emotional implications used to sway the audience.",
        "a brutal, savage attack on our freedom",
        "#ff9f1c",
    ),
    "Obfuscation-Vagueness-Confusion": (
        "Manipulative Wording",
        "Deliberately unclear wording that lets the audience read in what it likes.",
        "Certain circles are doing certain things, as everyone knows.",
        "#a9a9a9",
    ),
    "Exaggeration-Minimisation": (
        "Manipulative Wording",
        "Makes something seem much larger, better or worse, or much smaller, than it is.",
        "the greatest disaster in the history of mankind",
        "#f032e6",
    ),
    "Repetition": (
        "Manipulative Wording",
        "Repeats the same message over and over so that the audience accepts it.",
        "No deal. No deal. No deal.",
        "#9467bd",
    ),
}

# PTC (SemEval-2020 Task 11) names -> (definition, example, colour). Merged classes keep their merged names.
PTC14: dict[str, tuple[str, str, str]] = {
    "Appeal_to_Authority": (
        "States that a claim is true because an authority or expert says so, without other evidence.",
        "Top scientists agree, so the matter is settled.",
        "#4363d8",
    ),
    "Appeal_to_fear-prejudice": (
        "Builds support by stoking fear of, or prejudice against, an outcome or group.",
        "If we do nothing, our cities will burn.",
        "#911eb4",
    ),
    "Bandwagon,Reductio_ad_hitlerum": (
        "Bandwagon: do it because everyone does; or Reductio ad hitlerum: reject it because a hated group likes it.",
        "Millions have already switched. / That is exactly what Hitler said.",
        "#42d4f4",
    ),
    "Black-and-White_Fallacy": (
        "Presents two options as the only ones, or one as the only way.",
        "Either you are with us or you are with the terrorists.",
        "#ffa94d",
    ),
    "Causal_Oversimplification": (
        "Gives a single cause for an outcome that has many.",
        "Crime went up because the new mayor took office.",
        "#f58231",
    ),
    "Doubt": (
        "Questions the credibility of someone or something without evidence.",
        "Can we really trust a minister who never held a real job?",
        "#d62728",
    ),
    "Exaggeration,Minimisation": (
        "Makes something seem much larger, better or worse, or much smaller, than it is.",
        "the greatest disaster in the history of mankind",
        "#f032e6",
    ),
    "Flag-Waving": (
        "Justifies an idea by appeal to the pride or interest of a nation or group.",
        "Every true patriot must stand behind this bill.",
        "#1f77b4",
    ),
    "Loaded_Language": (
        "Words or phrases with strong emotional implications used to sway the audience.",
        "a brutal, savage attack on our freedom",
        "#ff9f1c",
    ),
    "Name_Calling,Labeling": (
        "Gives the target a label the audience fears, hates or loves, in place of an argument.",
        "The so-called 'experts' of the Kiev regime met again.",
        "#e6194b",
    ),
    "Repetition": (
        "Repeats the same message over and over so that the audience accepts it.",
        "No deal. No deal. No deal.",
        "#9467bd",
    ),
    "Slogans": (
        "A short, striking phrase that may carry labelling and stereotyping.",
        "Make our country great again!",
        "#3cb44b",
    ),
    "Thought-terminating_Cliches": (
        "A phrase that discourages critical thought and ends the discussion.",
        "It is what it is.",
        "#2ca02c",
    ),
    "Whataboutism,Straw_Men,Red_Herring": (
        "Deflects: points to the opponent's own wrongs, refutes a distorted position, or brings in an irrelevant matter.",
        "And what about the wars your side started?",
        "#bcbd22",
    ),
}

# SemEval-2021 Task 6 (memes) names -> (definition, example, colour).
SEMEVAL2021: dict[str, tuple[str, str, str]] = {
    "Appeal to authority": (PTC14["Appeal_to_Authority"][0], PTC14["Appeal_to_Authority"][1], "#4363d8"),
    "Appeal to fear/prejudice": (PTC14["Appeal_to_fear-prejudice"][0], PTC14["Appeal_to_fear-prejudice"][1], "#911eb4"),
    "Black-and-white Fallacy/Dictatorship": (
        "Presents two options as the only ones, or tells the audience exactly what to do, leaving no choice.",
        "There are only two kinds of people.",
        "#ffa94d",
    ),
    "Causal Oversimplification": (
        PTC14["Causal_Oversimplification"][0],
        PTC14["Causal_Oversimplification"][1],
        "#f58231",
    ),
    "Doubt": (PTC14["Doubt"][0], PTC14["Doubt"][1], "#d62728"),
    "Exaggeration/Minimisation": (
        PTC14["Exaggeration,Minimisation"][0],
        PTC14["Exaggeration,Minimisation"][1],
        "#f032e6",
    ),
    "Flag-waving": (PTC14["Flag-Waving"][0], PTC14["Flag-Waving"][1], "#1f77b4"),
    "Glittering generalities (Virtue)": (
        "Vague, emotionally appealing words tied to values the audience holds dear, with no argument.",
        "This plan is about freedom, pure and simple.",
        "#469990",
    ),
    "Loaded Language": (PTC14["Loaded_Language"][0], PTC14["Loaded_Language"][1], "#ff9f1c"),
    "Misrepresentation of Someone's Position (Straw Man)": (
        SEMEVAL2023["Straw_Man"][1],
        SEMEVAL2023["Straw_Man"][2],
        "#808000",
    ),
    "Name calling/Labeling": (PTC14["Name_Calling,Labeling"][0], PTC14["Name_Calling,Labeling"][1], "#e6194b"),
    "Obfuscation, Intentional vagueness, Confusion": (
        SEMEVAL2023["Obfuscation-Vagueness-Confusion"][1],
        SEMEVAL2023["Obfuscation-Vagueness-Confusion"][2],
        "#a9a9a9",
    ),
    "Presenting Irrelevant Data (Red Herring)": (
        SEMEVAL2023["Red_Herring"][1],
        SEMEVAL2023["Red_Herring"][2],
        "#9a9a2e",
    ),
    "Reductio ad hitlerum": (SEMEVAL2023["Guilt_by_Association"][1], SEMEVAL2023["Guilt_by_Association"][2], "#f0506e"),
    "Repetition": (PTC14["Repetition"][0], PTC14["Repetition"][1], "#9467bd"),
    "Slogans": (PTC14["Slogans"][0], PTC14["Slogans"][1], "#3cb44b"),
    "Smears": (
        "Damages the target's reputation with attacks on character, not on argument.",
        "Her record of scandals speaks for itself.",
        "#b03a2e",
    ),
    "Thought-terminating cliché": (
        PTC14["Thought-terminating_Cliches"][0],
        PTC14["Thought-terminating_Cliches"][1],
        "#2ca02c",
    ),
    "Whataboutism": (SEMEVAL2023["Whataboutism"][1], SEMEVAL2023["Whataboutism"][2], "#bcbd22"),
    "Bandwagon": (SEMEVAL2023["Appeal_to_Popularity"][1], SEMEVAL2023["Appeal_to_Popularity"][2], "#42d4f4"),
}

# PTC-14 -> SemEval-2023. A tuple of several names is a one-to-many case: the PTC class merged techniques that
# SemEval-2023 keeps apart, so a PTC label maps to "one of these", never to all of them.
PTC14_TO_SEMEVAL2023: dict[str, tuple[str, ...]] = {
    "Appeal_to_Authority": ("Appeal_to_Authority",),
    "Appeal_to_fear-prejudice": ("Appeal_to_Fear-Prejudice",),
    "Bandwagon,Reductio_ad_hitlerum": ("Appeal_to_Popularity", "Guilt_by_Association"),
    "Black-and-White_Fallacy": ("False_Dilemma-No_Choice",),
    "Causal_Oversimplification": ("Causal_Oversimplification",),
    "Doubt": ("Casting_Doubt",),
    "Exaggeration,Minimisation": ("Exaggeration-Minimisation",),
    "Flag-Waving": ("Flag_Waving",),
    "Loaded_Language": ("Loaded_Language",),
    "Name_Calling,Labeling": ("Name_Calling-Labeling",),
    "Repetition": ("Repetition",),
    "Slogans": ("Slogans",),
    "Thought-terminating_Cliches": ("Conversation_Killer",),
    "Whataboutism,Straw_Men,Red_Herring": ("Whataboutism", "Straw_Man", "Red_Herring"),
}

# SemEval-2023 -> PTC-14. An empty tuple: PTC has no such class (its annotators were not asked for it).
# Appeal_to_Hypocrisy and Questioning_the_Reputation are approximate: PTC annotated tu quoque under Whataboutism
# and attacks on credibility under Doubt; both are stated here rather than dropped.
SEMEVAL2023_TO_PTC14: dict[str, tuple[str, ...]] = {
    **{name: (ptc,) for ptc, names in PTC14_TO_SEMEVAL2023.items() for name in names},
    "Appeal_to_Hypocrisy": ("Whataboutism,Straw_Men,Red_Herring",),
    "Questioning_the_Reputation": ("Doubt",),
    "Appeal_to_Values": (),
    "Consequential_Oversimplification": (),
    "Appeal_to_Time": (),
    "Obfuscation-Vagueness-Confusion": (),
}
APPROXIMATE_TO_PTC14 = frozenset({"Appeal_to_Hypocrisy", "Questioning_the_Reputation"})

# SemEval-2021 Task 6 -> PTC-14 and -> SemEval-2023 (each one-to-one or empty).
SEMEVAL2021_TO_PTC14: dict[str, tuple[str, ...]] = {
    "Appeal to authority": ("Appeal_to_Authority",),
    "Appeal to fear/prejudice": ("Appeal_to_fear-prejudice",),
    "Black-and-white Fallacy/Dictatorship": ("Black-and-White_Fallacy",),
    "Causal Oversimplification": ("Causal_Oversimplification",),
    "Doubt": ("Doubt",),
    "Exaggeration/Minimisation": ("Exaggeration,Minimisation",),
    "Flag-waving": ("Flag-Waving",),
    "Glittering generalities (Virtue)": (),
    "Loaded Language": ("Loaded_Language",),
    "Misrepresentation of Someone's Position (Straw Man)": ("Whataboutism,Straw_Men,Red_Herring",),
    "Name calling/Labeling": ("Name_Calling,Labeling",),
    "Obfuscation, Intentional vagueness, Confusion": (),
    "Presenting Irrelevant Data (Red Herring)": ("Whataboutism,Straw_Men,Red_Herring",),
    "Reductio ad hitlerum": ("Bandwagon,Reductio_ad_hitlerum",),
    "Repetition": ("Repetition",),
    "Slogans": ("Slogans",),
    "Smears": (),
    "Thought-terminating cliché": ("Thought-terminating_Cliches",),
    "Whataboutism": ("Whataboutism,Straw_Men,Red_Herring",),
    "Bandwagon": ("Bandwagon,Reductio_ad_hitlerum",),
}
SEMEVAL2021_TO_SEMEVAL2023: dict[str, tuple[str, ...]] = {
    "Appeal to authority": ("Appeal_to_Authority",),
    "Appeal to fear/prejudice": ("Appeal_to_Fear-Prejudice",),
    "Black-and-white Fallacy/Dictatorship": ("False_Dilemma-No_Choice",),
    "Causal Oversimplification": ("Causal_Oversimplification",),
    "Doubt": ("Casting_Doubt",),
    "Exaggeration/Minimisation": ("Exaggeration-Minimisation",),
    "Flag-waving": ("Flag_Waving",),
    "Glittering generalities (Virtue)": ("Appeal_to_Values",),
    "Loaded Language": ("Loaded_Language",),
    "Misrepresentation of Someone's Position (Straw Man)": ("Straw_Man",),
    "Name calling/Labeling": ("Name_Calling-Labeling",),
    "Obfuscation, Intentional vagueness, Confusion": ("Obfuscation-Vagueness-Confusion",),
    "Presenting Irrelevant Data (Red Herring)": ("Red_Herring",),
    "Reductio ad hitlerum": ("Guilt_by_Association",),
    "Repetition": ("Repetition",),
    "Slogans": ("Slogans",),
    "Smears": ("Questioning_the_Reputation",),
    "Thought-terminating cliché": ("Conversation_Killer",),
    "Whataboutism": ("Whataboutism",),
    "Bandwagon": ("Appeal_to_Popularity",),
}
