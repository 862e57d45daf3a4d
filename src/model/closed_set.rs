//! Closed sets of states (a deploy's status, an issue's state, a log line's stream, ...) are
//! enums whose words are written once, in the `closed_set!` declaration: `as_str`, `FromStr`,
//! `Display` and serde all read them from there, so a page, a JSON body and a database row
//! cannot spell a state two ways. Storage reads the words back through the same `FromStr`
//! (`storage::text_set`), so a word no member has is an error, never a silent default.

use std::fmt;

/// A word that names no member of a closed set: from outside (a form, a JSON body, a hook's
/// request) or from a row some other version wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownValue {
    /// What the set is, in words (`deploy status`).
    pub set: &'static str,
    /// What was given, cut to 64 characters: it may come from outside.
    pub value: String,
    /// The set's words.
    pub expected: &'static [&'static str],
}

impl UnknownValue {
    pub fn new(set: &'static str, value: &str, expected: &'static [&'static str]) -> Self {
        Self {
            set,
            value: value.chars().take(64).collect(),
            expected,
        }
    }
}

impl fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown {} '{}'; expected one of {}",
            self.set,
            self.value,
            self.expected.join(", ")
        )
    }
}

impl std::error::Error for UnknownValue {}

/// Declares a closed set: `closed_set! { /// doc  pub enum Name("what it is") { A = "a", ... } }`.
/// Gives the enum `Debug, Clone, Copy, PartialEq, Eq, Hash`, `ALL` (declaration order),
/// `as_str`, `FromStr` (error `UnknownValue`), `Display`, and serde as the same words.
macro_rules! closed_set {
    (
        $(#[$meta:meta])*
        pub enum $name:ident($what:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $word:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every member, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            const WORDS: &'static [&'static str] = &[$($word),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $word, )+
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::model::closed_set::UnknownValue;
            fn from_str(s: &str) -> ::std::result::Result<Self, Self::Err> {
                match s {
                    $( $word => Ok($name::$variant), )+
                    _ => Err($crate::model::closed_set::UnknownValue::new($what, s, Self::WORDS)),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> ::std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                let word = <::std::string::String as ::serde::Deserialize>::deserialize(d)?;
                word.parse().map_err(::serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use closed_set;

#[cfg(test)]
mod tests {
    closed_set! {
        /// A set for the tests.
        pub enum Light("light") {
            Red = "red",
            Amber = "amber",
            /// With a doc comment of its own.
            Green = "green_go",
        }
    }

    #[test]
    fn words_round_trip_through_every_form() {
        for &light in Light::ALL {
            assert_eq!(light.as_str().parse::<Light>(), Ok(light));
            assert_eq!(light.to_string(), light.as_str());
            let json = serde_json::to_string(&light).unwrap();
            assert_eq!(json, format!("\"{}\"", light.as_str()));
            assert_eq!(serde_json::from_str::<Light>(&json).unwrap(), light);
        }
        assert_eq!(Light::Green.as_str(), "green_go");
        assert_eq!(Light::ALL, &[Light::Red, Light::Amber, Light::Green]);
    }

    #[test]
    fn an_unknown_word_is_an_error_naming_the_set() {
        let e = "blue".parse::<Light>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown light 'blue'; expected one of red, amber, green_go"
        );
        assert!("Red".parse::<Light>().is_err(), "words are exact");
        assert!(serde_json::from_str::<Light>("\"blue\"").is_err());
        let long = "x".repeat(1000);
        assert_eq!(long.parse::<Light>().unwrap_err().value.len(), 64);
    }
}
