//! Terminal conventions shared by the binaries: colour in logs only on a terminal, and never under `NO_COLOR`.

use std::io::IsTerminal;

/// Whether log lines written to stderr may carry ANSI colour codes: stderr is a terminal and `NO_COLOR`
/// (<https://no-color.org>) is unset or empty. Logs written to a file, a pipe or CI are plain text.
#[must_use]
pub fn stderr_colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
