//! The one integration test binary: real PostgreSQL, real `git`, real `labforge` binary.

mod helpers;
