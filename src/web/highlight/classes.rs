//! TextMate scopes (what the grammars name) folded into the few classes base.html colours.
//! The innermost scope with a rule decides; scopes without one (`meta.*`, most `punctuation.*`)
//! defer to the scope around them, so a string's quotes are coloured as the string.

use std::sync::LazyLock;

use syntect::parsing::Scope;

/// Scope prefix → class, the more specific prefixes first; `""` is plain on purpose (operators
/// would otherwise take the keyword colour and make code noisy).
const RULES: &[(&str, &str)] = &[
    ("comment", "hl-com"),
    ("punctuation.definition.comment", "hl-com"),
    ("string", "hl-str"),
    ("markup.raw", "hl-str"),
    ("constant", "hl-num"),
    ("support.constant", "hl-num"),
    ("markup.heading", "hl-head"),
    ("entity.name.section", "hl-head"),
    ("entity.name.table", "hl-head"),
    ("entity.section", "hl-head"),
    ("entity.name.tag", "hl-key"),
    ("entity.other.attribute-name", "hl-key"),
    ("support.type.property-name", "hl-key"),
    ("meta.mapping.key", "hl-key"),
    ("keyword.name", "hl-key"),
    ("variable.declaration", "hl-key"),
    ("entity.name.function", "hl-fn"),
    ("support.function", "hl-fn"),
    ("variable.function", "hl-fn"),
    ("entity.name", "hl-ty"),
    ("entity.other.inherited-class", "hl-ty"),
    ("support.type", "hl-ty"),
    ("support.class", "hl-ty"),
    ("keyword.operator", ""),
    ("keyword", "hl-kw"),
    ("storage", "hl-kw"),
    ("variable.language", "hl-kw"),
    ("variable.parameter", "hl-var"),
    ("variable.other.readwrite.shell", "hl-var"),
    ("support.variable", "hl-var"),
    ("invalid", ""),
];

static SCOPES: LazyLock<Vec<(Scope, &'static str)>> = LazyLock::new(|| {
    RULES
        .iter()
        .map(|&(s, class)| {
            let scope = Scope::new(s).expect("a rule's scope parses because it is a literal");
            (scope, class)
        })
        .collect()
});

/// The class for text under `stack` (outermost scope first).
pub(super) fn class_of(stack: &[Scope]) -> &'static str {
    for scope in stack.iter().rev() {
        if let Some(&(_, class)) = SCOPES.iter().find(|(p, _)| p.is_prefix_of(*scope)) {
            return class;
        }
    }
    ""
}
