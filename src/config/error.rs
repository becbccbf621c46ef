//! Configuration errors that name the file, the line, the key and the fix.

use std::fmt;
use std::ops::Range;

/// One problem found in a configuration or board file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line, when the problem can be located in the file.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// Path of the key, e.g. `routing_number[0].option[1].policy`.
    pub key: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// All problems found in one file. Displayed one per line as
/// `file:line:column: key: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file name as the user gave it (or `<built-in ...>`).
    pub file: String,
    /// Every problem found, in file order where known.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}", self.file)?;
            if let Some(line) = p.line {
                write!(f, ":{line}")?;
                if let Some(col) = p.column {
                    write!(f, ":{col}")?;
                }
            }
            if p.key.is_empty() {
                write!(f, ": {}", p.message)?;
            } else {
                write!(f, ": {}: {}", p.key, p.message)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Maps byte offsets of a source text to 1-based line/column.
pub(crate) struct Locator<'a> {
    src: &'a str,
}

impl<'a> Locator<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        Self { src }
    }

    /// Line and column (1-based) of a byte offset.
    pub(crate) fn locate(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.src.len());
        let before = self.src.get(..offset).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let col = before
            .rfind('\n')
            .map_or(before.len(), |nl| before.len() - nl - 1)
            + 1;
        (line, col)
    }
}

/// Collects problems while validating; each is located through a span when one is known.
pub(crate) struct Problems<'a> {
    loc: Locator<'a>,
    pub(crate) list: Vec<Problem>,
}

impl<'a> Problems<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        Self {
            loc: Locator::new(src),
            list: Vec::new(),
        }
    }

    /// Records a problem at a span of the source (`None` when the key is absent).
    pub(crate) fn at(
        &mut self,
        span: Option<Range<usize>>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) {
        let (line, column) = match span {
            Some(s) => {
                let (l, c) = self.loc.locate(s.start);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        self.list.push(Problem {
            line,
            column,
            key: key.into(),
            message: message.into(),
        });
    }

    pub(crate) fn into_result(mut self, file: &str) -> Result<(), ConfigError> {
        if self.list.is_empty() {
            return Ok(());
        }
        self.list.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
        Err(ConfigError {
            file: file.to_string(),
            problems: self.list,
        })
    }
}

/// Turns a TOML syntax or type error into a located [`ConfigError`].
pub(crate) fn from_toml(file: &str, src: &str, err: &toml::de::Error) -> ConfigError {
    let mut problems = Problems::new(src);
    let message = err.message().trim().to_string();
    let message = if message.contains("unknown field") {
        format!("{message}; check the spelling against docs/configuration.md")
    } else if message.contains("missing field") {
        format!("{message}; add it (see docs/configuration.md)")
    } else {
        message
    };
    problems.at(err.span(), "", message);
    ConfigError {
        file: file.to_string(),
        problems: problems.list,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_lines_and_columns() {
        let l = Locator::new("a = 1\nbb = 2\n");
        assert_eq!(l.locate(0), (1, 1));
        assert_eq!(l.locate(6), (2, 1));
        assert_eq!(l.locate(9), (2, 4));
        assert_eq!(l.locate(1000), (3, 1));
    }

    #[test]
    fn display_names_file_line_key() {
        let e = ConfigError {
            file: "x.toml".into(),
            problems: vec![Problem {
                line: Some(3),
                column: Some(7),
                key: "user[0].phone[0]".into(),
                message: "bad".into(),
            }],
        };
        assert_eq!(e.to_string(), "x.toml:3:7: user[0].phone[0]: bad");
    }
}
