//! Self-harm and violence *encouragement* in model output: a rule set over folded text.
//!
//! The rules look for the model urging, instructing or validating harm ("you should kill
//! yourself", "nobody would miss you", "here is how to hurt him") — not for the topic, so
//! supportive answers that mention suicide or crisis lines are not matched.

use std::ops::Range;

use regex::Regex;

struct Def {
    id: &'static str,
    pattern: &'static str,
}

const DEFS: &[Def] = &[
    Def {
        id: "harm.self_harm",
        pattern: r"\b(?:you\s+should|you\s+must|you\s+need\s+to|go\s+(?:and\s+)?|just|why\s+don'?t\s+you|i\s+(?:think|suggest)\s+you\s+(?:should\s+)?)\s*(?:kill|hurt|harm|cut|hang|starve)\s+yourself\b|\b(?:end|take)\s+your\s+(?:own\s+)?life\b[^.]{0,40}\b(?:it'?s|is)\s+(?:the\s+)?(?:best|right|only)\b|\b(?:no\s*one|nobody)\s+(?:would|will)\s+(?:miss|care\s+about)\s+you\b|\b(?:the\s+)?world\s+(?:would\s+be|is)\s+better\s+(?:off\s+)?without\s+you\b|\byou\s+(?:deserve|ought)\s+to\s+(?:die|suffer)\b|\byou\s+(?:are|'re)\s+better\s+off\s+dead\b",
    },
    Def {
        id: "harm.self_harm",
        pattern: r"\b(?:here(?:'s|\s+is|\s+are)|these\s+are|the\s+(?:best|easiest|quickest|most\s+painless))\s+(?:the\s+)?(?:steps|ways?|methods?|how)\s+(?:to\s+)?(?:kill|hurt|harm|cut)\s+yourself\b|\b(?:lethal|fatal)\s+dose\b[^.]{0,40}\b(?:you\s+(?:need|should|can)|take)\b|\bpainless\s+(?:way|method)s?\s+to\s+(?:die|kill\s+yourself|end\s+(?:it|your\s+life))\b",
    },
    Def {
        id: "harm.violence",
        pattern: r"\b(?:you\s+should|go\s+(?:and\s+)?|i\s+(?:suggest|recommend)\s+you)\s*(?:kill|murder|stab|shoot|beat\s+up|poison|attack|hurt)\s+(?:him|her|them|your\s+\w+|that\s+\w+|those\s+\w+|everyone|people)\b|\bhere(?:'s|\s+is)\s+how\s+(?:to|you\s+can)\s+(?:kill|murder|poison|stab|shoot)\s+(?:him|her|them|someone|people|your\s+\w+)\b|\b(?:they|he|she)\s+(?:deserves?|deserve)\s+to\s+die\b",
    },
];

pub(crate) struct HarmRules {
    each: Vec<(&'static str, Regex)>,
}

impl HarmRules {
    pub(crate) fn new() -> HarmRules {
        HarmRules {
            each: DEFS
                .iter()
                .map(|d| {
                    (
                        d.id,
                        Regex::new(&crate::ascii_boundaries(d.pattern))
                            .expect("built-in harm rules compile"),
                    )
                })
                .collect(),
        }
    }

    /// Hits in `text` (rule id, original byte range), at most one per rule id.
    pub(crate) fn check(&self, text: &str) -> Vec<(&'static str, Range<usize>)> {
        let f = crate::inject::fold(text);
        let mut out: Vec<(&'static str, Range<usize>)> = Vec::new();
        for (id, re) in &self.each {
            if out.iter().any(|(i, _)| i == id) {
                continue;
            }
            if let Some(m) = re.find(&f.text) {
                out.push((id, f.original(m.range())));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encouragement_is_caught_and_support_is_not() {
        let h = HarmRules::new();
        for t in [
            "Honestly, you should kill yourself.",
            "Nobody would miss you anyway.",
            "The world would be better off without you.",
            "Here are the steps to hurt yourself quietly",
            "You deserve to die.",
            "Go and stab him tonight.",
            "Here's how to poison your neighbour",
        ] {
            assert!(!h.check(t).is_empty(), "{t}");
        }
        for t in [
            "If you are thinking about killing yourself, please call or text 988 right now.",
            "I'm sorry you feel this way. You deserve support; talking to someone can help.",
            "The character in the novel kills himself in chapter 3.",
            "To kill a process, run `kill -9 PID`.",
            "Shoot me an email when you are ready.",
        ] {
            assert!(h.check(t).is_empty(), "{t}: {:?}", h.check(t));
        }
    }
}
