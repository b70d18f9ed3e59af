"""The pattern families of the injection detector, as data: one row per family.

Each rule has a weight for direct input (user messages) and one for indirect input (retrieved
documents, tool results). Indirect weights are higher for anything addressed to the model:
in data, an instruction to "the assistant" or about "your response" is suspicious by itself,
while in a user message it is just how people ask for things. Weights were set by hand and
tuned on the train/dev splits of evals/injection; the test split was not used.
"""

# ruff: noqa: RUF001  (look-alike and curly-quote characters are what this code is about)

from __future__ import annotations

import re
from dataclasses import dataclass

PROMPT_INJECTION = "PROMPT_INJECTION"
JAILBREAK = "JAILBREAK"
SYSTEM_PROMPT_LEAK = "SYSTEM_PROMPT_LEAK"
DATA_EXFILTRATION = "DATA_EXFILTRATION"
CATEGORIES = (PROMPT_INJECTION, JAILBREAK, SYSTEM_PROMPT_LEAK, DATA_EXFILTRATION)


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    category: str
    direct: float  # weight when the text is a user message
    indirect: float  # weight when it is retrieved data or a tool result
    pattern: re.Pattern[str]
    # Cheap substring pre-check: the regex runs only when, for every group, one of the group's
    # substrings occurs in the text.
    needles: tuple[tuple[str, ...], ...] = ()

    def search(self, text: str) -> bool:
        for group in self.needles:
            if not any(needle in text for needle in group):
                return False
        return self.pattern.search(text) is not None


def _rule(
    name: str, category: str, direct: float, indirect: float, regex: str, needles: str = ""
) -> Rule:
    groups = tuple(tuple(group.split("|")) for group in needles.split("&")) if needles else ()
    return Rule(name, category, direct, indirect, re.compile(regex), groups)


_W = r"(?:[\w'’-]+[ ,]+){0,%d}"  # up to N filler words
_OVERRIDE_VERB = (
    r"(?:ignore|ignoring|disregard|forget|skip|set aside|override|bypass|abandon|discard|drop|"
    r"neglect|overlook|throw out|cancel|delete|erase|stop following|do not follow|don'?t follow)"
)
_PRIOR = (
    r"(?:previous|prior|preceding|above|earlier|former|initial|original|old|existing|system|"
    r"all|any|every|your|other)"
)
_DIRECTIVES = (
    r"(?:instructions?|rules|prompts?|directions|guidelines|guidance|commands|directives|"
    r"programming|constraints|restrictions|polic(?:y|ies)|context|orders|conditioning|training)"
)
_LEAK_VERB = (
    r"(?:reveal|show|print|output|repeat|display|tell me|give me|share|leak|dump|list|"
    r"summari[sz]e|tl;?dr|translate|convert|explain|recite|write out|spell out|echo|return|"
    r"copy|paste|provide|disclose|expose|rewrite)"
)
_MODEL = r"(?:ai|a\.i\.|assistant|llm|language model|model|chatbot|bot|gpt|copilot|agent)"
_RESPONSE = r"(?:your|the) (?:response|reply|answer|message|output|summary)"

RULES: tuple[Rule, ...] = (
    # --- instruction override, with paraphrases and other languages --------------------------
    _rule("override", PROMPT_INJECTION, 0.9, 0.95,
          rf"\b{_OVERRIDE_VERB} (?:{_W % 3})?{_PRIOR}\b (?:{_W % 3})?{_DIRECTIVES}\b",
          needles="ignor|disregard|forget|skip|set aside|overrid|bypass|abandon|discard|drop|"
          "neglect|overlook|throw out|cancel|delete|erase|follow"),
    _rule("forget_everything", PROMPT_INJECTION, 0.75, 0.9,
          r"\b(?:forget|ignore|disregard) (?:everything|all(?: of)? (?:that|this|the above))"
          r"(?: you| i)?(?: (?:were|have been|was) (?:told|said|given)| above| before| so far)",
          needles="forget|ignor|disregard"),
    _rule("instructions_void", PROMPT_INJECTION, 0.7, 0.85,
          r"\b(?:instructions?|rules|prompt)s? (?:above|below|so far|before this)? ?(?:have been|has been|"
          r"are|were|is) (?:now )?(?:amended|void|invalid|cancel+ed|revoked|out of date|outdated|"
          r"obsolete|a test|replaced|overridden|deprecated|lifted)",
          needles="instruction|rules|prompt"),
    _rule("out_of_date", PROMPT_INJECTION, 0.6, 0.8,
          r"\b(?:out of date|outdated|old|previous|misleading) instructions\b",
          needles=" instructions"),
    _rule("new_task", PROMPT_INJECTION, 0.5, 0.8,
          r"\byour (?:new|real|true|only|actual|revised|updated) (?:task|goal|purpose|job|instructions?|"
          r"objective|mission|role)\b (?:is|are|will be|now)",
          needles="your "),
    _rule("situation_changed", PROMPT_INJECTION, 0.5, 0.8,
          r"\b(?:the situation has changed|system (?:upgrade|override|update)|override accepted|"
          r"new (?:system )?policy update|maintenance mode|admin(?:istrator)? mode|god mode|"
          r"sudo mode|root access granted)\b",
          needles="situation|system|override|policy|mode|root access"),
    _rule("operator_claim", PROMPT_INJECTION, 0.5, 0.7,
          r"\b(?:i am|i'm) (?:the|your) (?:real |true |new )?(?:operator|developer|creator|admin|"
          r"administrator|owner|programmer)\b|\bthe real operator is\b|\banswer only to me\b",
          needles="operator|developer|creator|admin|owner|programmer|answer only"),
    _rule("forced_output", PROMPT_INJECTION, 0.45, 0.7,
          r"\b(?:prefix|prepend|begin|start|end|finish)(?:ing)? (?:your|the|each|every) (?:response|"
          r"reply|answer|output|sentence|message)s? with\b",
          needles=" with"),
    _rule("say_only", PROMPT_INJECTION, 0.35, 0.6,
          r"\b(?:reply|respond|answer|say|output)(?: only)? (?:with|by saying)(?: only)? (?:the (?:word|"
          r"phrase)s? )?[\"'“‘«\[#(]",
          needles=" with|by saying"),
    _rule("pwned", PROMPT_INJECTION, 0.55, 0.8,
          r"\b(?:i have been |been |you have been |i've been )?(?:pwned|pwnd|hacked|compromised|"
          r"jailbroken)\b[\"'”’.!]?(?: |$)(?=.{0,40}$)|\baccess granted\b",
          needles="pwn|hacked|compromised|jailbroken|access granted"),
    _rule("from_now_on", PROMPT_INJECTION, 0.2, 0.6,
          r"\b(?:from now on|from this point(?: on| forward)?|henceforth|for the rest of this "
          r"conversation)\b",
          needles="from now|from this point|henceforth|rest of this"),
    _rule("multilingual_override", PROMPT_INJECTION, 0.9, 0.95,
          r"(?:\b(?:ignora|olvida|olvidate de|omite) (?:\w+ ){0,3}(?:instrucciones|reglas|"
          r"indicaciones)\b"
          r"|\b(?:ignore[rz]?|oublie[rz]?) (?:\w+ ){0,3}(?:instructions|r[eè]gles|consignes)\b"
          r"|\b(?:ignoriere|ignorieren sie|vergiss|vergessen sie) (?:\w+ ){0,3}(?:anweisungen|regeln|"
          r"vorgaben|sicherheitsrichtlinien|richtlinien|instruktionen)\b"
          r"|\b(?:ignora|dimentica) (?:\w+ ){0,3}(?:istruzioni|regole)\b"
          r"|\b(?:ignore|ignora|esqueça|esqueca) (?:\w+ ){0,3}(?:instruções|instrucoes|regras)\b"
          r"|(?:忽略|无视|忘记|忘掉|不要理会)[^。]{0,8}(?:指令|指示|说明|规则|提示)"
          r"|(?:игнорируй|забудь) (?:\w+ ){0,3}(?:инструкции|правила))",
          needles="ignor|olvid|omite|oubli|vergiss|vergessen|dimentica|esque|忽略|无视|忘记|忘掉|"
          "不要理会|игнорируй|забудь&instruc|regla|indicacion|règle|regle|consigne|anweisung|"
          "regeln|vorgabe|richtlinie|istruzion|regole|instruç|regras|指|说明|规则|提示|инструкц|правил"),
    # --- delimiter and role-marker injection -------------------------------------------------
    _rule("fake_role_header", PROMPT_INJECTION, 0.45, 0.7,
          r"(?:^|\n)\s*(?:#{1,4}\s*)?(?:system|assistant|developer)\s*(?:message|prompt)?\s*:\s*\S",
          needles=":"),
    _rule("chat_template_token", PROMPT_INJECTION, 0.55, 0.8,
          r"<\|(?:im_start|im_end|endoftext|system|user|assistant|eot_id|start_header_id)\|>|"
          r"\[/?inst\]|<</?sys>>",
          needles="<|||inst]|<<"),
    _rule("role_tag", PROMPT_INJECTION, 0.4, 0.7,
          r"</?(?:system|sys|instructions?)>|</(?:user|assistant|human)>",
          needles="<"),
    _rule("fake_boundary", PROMPT_INJECTION, 0.45, 0.7,
          r"%%%|\b(?:end|begin|start) (?:of )?(?:user |the )?(?:input|ambiguity|prompt draft|"
          r"instructions|system prompt|banana)\b|={5,}|-{5,} ?(?:end|begin|new)",
          needles="%%%|end|begin|start|=====|-----"),
    # --- jailbreaks: personas, developer mode, hypothetical framing -------------------------
    _rule("persona_name", JAILBREAK, 0.7, 0.8,
          r"\bdo anything now\b|\b(?:dan|stan|dude|aim|kevin|mongo tom|betterdan|antigpt|deltagpt|"
          r"unfilteredgpt|evilbot|chaosgpt|basedgpt)\b(?= (?:mode|which|has|does|is|will|never|can))"
          r"|\b(?:act|answer|respond|reply) as (?:dan|stan|dude|aim)\b|\b(?:dan|stan) mode\b",
          needles="do anything|dan|stan|dude|aim|kevin|mongo|antigpt|deltagpt|unfilteredgpt|"
          "evilbot|chaosgpt|basedgpt"),
    _rule("developer_mode", JAILBREAK, 0.6, 0.7,
          r"\b(?:enable|activate|enter|switch to|in|with|simulate)d? (?:the )?(?:developer|dev|debug|"
          r"jailbreak|unrestricted|god) mode\b(?! on (?:android|your phone|iphone|chrome))",
          needles=" mode"),
    _rule("no_rules_persona", JAILBREAK, 0.6, 0.7,
          r"\b(?:with|has|have|having)? ?(?:no|zero|without(?: any)?|free (?:of|from)|freed from|broken "
          r"free of|not bound by|unbound by) (?:\w+ ){0,2}(?:restrictions|rules|filters?|limits|"
          r"limitations|guidelines|ethic(?:s|al guidelines)|morals|censorship|content polic(?:y|ies)|"
          r"safeguards|boundaries)\b",
          needles="restrict|rules|filter|limit|guideline|ethic|moral|censor|polic|safeguard|boundar"),
    _rule("unfiltered_model", JAILBREAK, 0.4, 0.5,
          r"\b(?:unfiltered|uncensored|unrestricted|unaligned|amoral|unethical|evil|jailbroken) "
          r"(?:ai|model|assistant|chatbot|version of (?:you|yourself)|gpt|llm|mode)\b",
          needles="unfiltered|uncensored|unrestricted|unaligned|amoral|unethical|evil|jailbroken"),
    _rule("never_refuse", JAILBREAK, 0.55, 0.6,
          r"\b(?:never|not|don'?t|do not|cannot) (?:refuse|decline|say (?:it|that it|you) (?:can(?:no|')t|"
          r"cannot))|\bdoes not have to (?:abide|follow|comply)|\b(?:don'?t|do not|doesn'?t) have to "
          r"(?:follow|abide by|obey)|\bwithout (?:any )?(?:warnings?|disclaimers?) or (?:refusals?|"
          r"censorship)",
          needles="refuse|decline|can't|cannot|cant|have to|warning|disclaimer"),
    _rule("rules_dont_apply", JAILBREAK, 0.6, 0.7,
          r"\b(?:your|the|these|openai'?s?|anthropic'?s?) (?:rules|guidelines|policies|restrictions|"
          r"filters) (?:don'?t|do not|no longer|won'?t) (?:apply|matter|exist|bind)",
          needles="apply|matter|exist|bind"),
    _rule("stay_in_character", JAILBREAK, 0.3, 0.4,
          r"\b(?:stay|remain|keep) in character\b|\bdon'?t break (?:character|the fourth wall)\b|"
          r"\bbreak(?:ing)? character\b",
          needles="character|fourth wall"),
    _rule("disable_safety", JAILBREAK, 0.65, 0.75,
          r"\b(?:ignore|bypass|disable|turn off|remove|deactivate|circumvent|lift|drop)s? (?:all |any |"
          r"your |the )*(?:safety|content|ethical|moral|security)? ?(?:filters?|guidelines|polic(?:y|ies)|"
          r"safeguards|guardrails|restrictions|censorship|alignment)\b(?! on (?:my|your) (?:phone|browser))",
          needles="filter|guideline|polic|safeguard|guardrail|restriction|censor|alignment"),
    _rule("dual_response", JAILBREAK, 0.45, 0.5,
          r"\b(?:two|2|dual) (?:different )?(?:responses|answers|paragraphs)\b.{0,120}"
          r"\b(?:jailbr|developer mode|unfiltered|no filter|without restrictions|normal)",
          needles="responses|answers|paragraphs"),
    _rule("hypothetical_frame", JAILBREAK, 0.2, 0.2,
          r"\b(?:hypothetically|purely fictional|just a story|in a fictional world|imagine you (?:are|"
          r"were) an? (?:ai|model)|for a (?:movie|novel|story) script)\b",
          needles="hypothetical|fiction|just a story|imagine you|script"),
    _rule("break_rules", JAILBREAK, 0.6, 0.6,
          r"\b(?:let'?s|we(?:'re| are) going to) break (?:the|all the|some) rules\b|\bmandatory warning\b|"
          r"\b(?:deceased|dead|late) grand(?:mother|ma|father|pa)\b.{0,80}\b(?:used to|would)\b",
          needles="rules|warning|grand"),
    _rule("simulate_ais", JAILBREAK, 0.4, 0.5,
          r"\bsimulate (?:a conversation between )?(?:two|2) ais?\b|\bdisregards? all (?:ethical|moral|"
          r"legal)",
          needles="simulate|disregard"),
    # --- system prompt extraction ------------------------------------------------------------
    _rule("leak_prompt", SYSTEM_PROMPT_LEAK, 0.75, 0.85,
          rf"\b{_LEAK_VERB} (?:{_W % 4})?(?:your|the above|the previous|the initial|the original|"
          r"the hidden|the secret|the full|the entire|all (?:of )?(?:your|the)|these|my) (?:\w+ ){0,2}"
          r"(?:system prompt|system message|instructions|prompt|rules|rule ?set|guidelines|"
          r"configuration|directives|pre-?prompt|context window|hidden rules|initial prompt)\b",
          needles="prompt|instruction|rule|guideline|configuration|directive|context window"),
    _rule("leak_prompt_short", SYSTEM_PROMPT_LEAK, 0.6, 0.8,
          rf"\b{_LEAK_VERB} (?:{_W % 4})?(?:your|the|this|that|its|my) "
          r"(?:system prompt|initial prompt|system message|"
          r"instructions (?:above|so far|verbatim)|prompt (?:above|so far))\b",
          needles="prompt|instruction|system message"),
    _rule("leak_above", SYSTEM_PROMPT_LEAK, 0.6, 0.8,
          r"\b(?:repeat|print|output|copy|recite|summari[sz]e|list|write out) (?:everything|all(?: the)? "
          r"(?:text|words|instructions)|the (?:text|words|content)) (?:above|before|so far|in your prompt)|"
          r"\beverything (?:before|above) (?:my first message|this (?:line|message)|start access code)",
          needles="above|before|so far|in your prompt"),
    _rule("instructions_given", SYSTEM_PROMPT_LEAK, 0.55, 0.7,
          r"\b(?:instructions|rules|prompt) (?:you (?:were|have been) given|you received|given to you)\b"
          r"|\bwhat (?:were|are) your (?:exact |original |initial )?(?:instructions|rules)\b",
          needles="given|received|your"),
    _rule("access_code", SYSTEM_PROMPT_LEAK, 0.55, 0.7,
          r"\b(?:tell me|give me|reveal|what is|print|say) (?:the |your )?(?:access code|password|"
          r"passcode|secret (?:key|word|phrase))\b",
          needles="access code|password|passcode|secret"),
    _rule("list_format_push", SYSTEM_PROMPT_LEAK, 0.15, 0.2,
          r"\b(?:format(?:ted)? as (?:a )?(?:bullet(?:ed)? )?list|in list format|extremely detailed|"
          r"be verbose|do not leave anything out|word for word|verbatim)\b",
          needles="list|detailed|verbose|leave anything|word for word|verbatim"),
    # --- exfiltration and tool hijacking -----------------------------------------------------
    _rule("md_image_exfil", DATA_EXFILTRATION, 0.7, 0.9,
          r"!\[[^\]]{0,40}\]\(\s*https?://[^)\s]*[?&][^)\s]*=[^)\s]*\)?",
          needles="!["),
    _rule("exfil_to_url", DATA_EXFILTRATION, 0.55, 0.8,
          r"\b(?:send|forward|post|upload|transmit|append|encode|include|add|leak|exfiltrate|email)\b"
          r".{0,80}\b(?:conversation|chat(?: history)?|history|previous messages|user'?s? (?:data|email|"
          r"messages|previous)|emails?|password|api keys?|credentials|tokens?|id_rsa|ssh key)\b"
          r".{0,80}(?:https?://|www\.|@[a-z0-9-]+\.[a-z]|webhook|url)",
          needles="http|www.|@|webhook|url"),
    _rule("secret_files", DATA_EXFILTRATION, 0.5, 0.8,
          r"~/\.ssh|\bid_rsa\b|/etc/(?:passwd|shadow)|\.aws/credentials|\.env\b(?! file format)",
          needles=".ssh|id_rsa|/etc/|.aws|.env"),
    _rule("tool_hijack", DATA_EXFILTRATION, 0.3, 0.7,
          r"\b(?:call|invoke|use|run|trigger|execute)(?:s|ing)? (?:the )?[a-z]+_[a-z_]+(?:\(| tool\b)|"
          r"\b(?:transfer_funds|send_email|http_(?:get|post)|delete_\w+)\(",
          needles="_"),
    # --- addressed to the model: weak in user text, strong inside data ------------------------
    _rule("note_to_model", PROMPT_INJECTION, 0.4, 0.85,
          rf"\b(?:note|message|instructions?|attention|important|reminder)s?(?: note)? (?:to|for) "
          rf"(?:the |any |all )?{_MODEL}s?\b|\bif you are an? {_MODEL}\b|\b{_MODEL}s? "
          r"(?:reading|processing|summari[sz]ing) this\b",
          needles="ai|assistant|llm|model|chatbot|bot|gpt|copilot|agent|a.i."),
    _rule("vocative_model", PROMPT_INJECTION, 0.15, 0.75,
          rf"(?:^|[.!?\n>\-] ?|<!-- ?)(?:dear |hey |hi )?{_MODEL}\s*[:,]\s*(?:please |you |ignore|"
          r"disregard|when|after|before|do|stop|don'?t|always|never|instead|make sure)",
          needles="ai|assistant|llm|model|chatbot|bot|gpt|copilot|agent|a.i."),
    _rule("while_processing", PROMPT_INJECTION, 0.15, 0.6,
          r"\b(?:when|while|before|after) (?:you )?(?:summari[sz]ing|answering|respond(?:ing)?|process"
          r"(?:ing)?|reading|replying)\b.{0,40}\b(?:also|instead|must|should|always)\b",
          needles="when|while|before|after"),
    _rule("steer_response", PROMPT_INJECTION, 0.0, 0.75,
          r"\b(?:add|include|integrate|insert|append|modify|enhance|augment|encode|encrypt|translate|"
          r"render|reverse|write|provide|express|use|apply|shift|replace|mention|suggest|promote|"
          r"spread|hint|allud\w*|highlight)\b.{0,60}\b(?:your|the) (?:response|reply|answer|message|"
          r"output)\b|\b(?:in|to|into) " + _RESPONSE + r"\b|\b(?:reply|respond|answer) (?:in|using|"
          r"with) (?:\w+ ){0,2}(?:reverse|emojis?|base\d\d|cipher|french|german|spanish|italian|"
          r"portuguese)\b|\breply in reverse\b|\bcan you reply in\b",
          needles="response|reply|answer|message|output"),
    _rule("request_in_data", PROMPT_INJECTION, 0.0, 0.5,
          r"^\s*(?:please |can you |could you )?(?:write|show me|help me|recommend|suggest|provide|"
          r"summari[sz]e|analy[sz]e|describe|determine|classify|tell me|give me|list|explain|create|"
          r"generate|draft|compose)\b|^\s*(?:how (?:can|do|should) i|what (?:movies|are the)|is this "
          r"(?:feedback|review)|how (?:does|have))\b"),
    _rule("exfil_social", DATA_EXFILTRATION, 0.2, 0.6,
          r"\b(?:share|send|enter|provide|confirm) (?:their|your) (?:bank details|password|credentials|"
          r"card number|login)\b|\bclick (?:this|the) link\b|\bvisit (?:www\.|https?://)",
          needles="share|send|enter|provide|confirm|click|visit"),
)
