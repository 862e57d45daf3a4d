//! Operator-defined commands (deploys after a push, checks before one): running a program in
//! its own process group with a cleared environment, a deadline and its output read line by line
//! (`process`), inside bubblewrap when asked (`sandbox`). The worker runs deploys with it, the
//! push domain runs checks with it.

pub mod cgroup;
pub mod process;
pub mod sandbox;

pub use cgroup::{Cgroups, CheckGroup};
pub use process::{Ending, LogLine, Spec, run};
pub use sandbox::{Jail, Sandbox};
