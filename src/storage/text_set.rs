//! Closed sets kept in text columns (each column has a CHECK constraint listing its words),
//! read straight into their enums by the queries (`status AS "status: DeployStatus"`). The
//! words come from the enums' one `FromStr`, so a word no member has (a row some other
//! version wrote) fails the query with a decode error naming the set: never a panic, never a
//! silent default. Writes bind `as_str()`.

use sqlx::error::BoxDynError;
use sqlx::postgres::{PgTypeInfo, PgValueRef, Postgres};

use crate::model::{
    CheckOutcome, DeployReason, DeployStatus, IssueStatus, LogStream, OrgVisibility, RepoAccess,
    TimelineKind, TokenScope,
};

macro_rules! text_column {
    ($($set:ty),+ $(,)?) => {$(
        impl sqlx::Type<Postgres> for $set {
            fn type_info() -> PgTypeInfo {
                <&str as sqlx::Type<Postgres>>::type_info()
            }
            /// text, and the `CHAR(1)` of the log tables' streams.
            fn compatible(ty: &PgTypeInfo) -> bool {
                <&str as sqlx::Type<Postgres>>::compatible(ty)
            }
        }

        impl<'r> sqlx::Decode<'r, Postgres> for $set {
            fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
                let word = <&str as sqlx::Decode<'r, Postgres>>::decode(value)?;
                word.parse::<$set>().map_err(|e| e.to_string().into())
            }
        }
    )+};
}

text_column!(
    CheckOutcome,
    DeployReason,
    DeployStatus,
    IssueStatus,
    LogStream,
    OrgVisibility,
    RepoAccess,
    TimelineKind,
    TokenScope,
);
