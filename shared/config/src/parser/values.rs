//! Reading values: words, numbers, booleans and keywords, with the error
//! for each way a value can be wrong; and the rules for options set twice.

use super::*;

impl Diag {
    /// The whole rest of the line, as Mosquitto reads string options.
    pub(super) fn text(&mut self, l: &Line<'_>, expected: &str) -> Option<String> {
        if l.rest.is_empty() {
            self.error(&l.span, ErrorKind::MissingValue { option: l.name.to_owned(), expected: expected.to_owned() });
            return None;
        }
        self.check_hash(l.name, l.rest, &l.span);
        Some(l.rest.to_owned())
    }

    /// Free text keeps a ` #` (Mosquitto does the same), but say so: the
    /// user most likely meant a comment.
    pub(super) fn check_hash(&mut self, option: &str, value: &str, span: &Span) {
        if value.contains(" #") || value.contains("\t#") {
            self.warn(span, WarningKind::HashInValue { option: option.to_owned(), value: value.to_owned() });
        }
    }

    /// Exactly one word. A second word is an error unless it starts a
    /// comment (`#...`): a single-word value cannot contain a blank, so
    /// nothing is lost by treating it as a comment.
    pub(super) fn token<'a>(&mut self, l: &Line<'a>, expected: &str) -> Option<&'a str> {
        let mut words = l.rest.split([' ', '\t']).filter(|w| !w.is_empty());
        let Some(first) = words.next() else {
            self.error(&l.span, ErrorKind::MissingValue { option: l.name.to_owned(), expected: expected.to_owned() });
            return None;
        };
        if let Some(second) = words.next()
            && !second.starts_with('#')
        {
            self.unexpected(l, second);
            return None;
        }
        Some(first)
    }

    /// Report everything from `from` (a word of `l.rest`) to the end of the
    /// line as unexpected.
    /// `from` must be a slice of `l.rest` (a word split out of it), so its
    /// position is known exactly even when the same text appears earlier.
    pub(super) fn unexpected(&mut self, l: &Line<'_>, from: &str) {
        let offset = (from.as_ptr() as usize).wrapping_sub(l.rest.as_ptr() as usize);
        let text = l.rest.get(offset..).filter(|_| offset <= l.rest.len()).unwrap_or(from);
        self.error(&l.span, ErrorKind::UnexpectedText { option: l.name.to_owned(), text: text.to_owned() });
    }

    /// `true`/`1` or `false`/`0`.
    pub(super) fn boolean(&mut self, l: &Line<'_>) -> Option<bool> {
        let tok = self.token(l, EXPECT_BOOL)?;
        match tok {
            // Mosquitto accepts exactly these four spellings.
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => {
                self.invalid(l, tok, EXPECT_BOOL);
                None
            }
        }
    }

    /// Report `value` as not what `l`'s option takes.
    pub(super) fn invalid(&mut self, l: &Line<'_>, value: &str, expected: &str) {
        self.error(
            &l.span,
            ErrorKind::InvalidValue {
                option: l.name.to_owned(),
                value: value.to_owned(),
                expected: expected.to_owned(),
            },
        );
    }

    /// One whole number in `min..=max`.
    pub(super) fn int(&mut self, l: &Line<'_>, min: i64, max: i64) -> Option<i64> {
        let tok = self.token(l, EXPECT_NUMBER)?;
        self.int_word(l, l.name, tok, min, max, EXPECT_NUMBER)
    }

    /// Parse `tok` as a whole number in `min..=max`, reporting errors under
    /// `option`. Unlike Mosquitto (C `atoi`), trailing garbage is an error.
    pub(super) fn int_word(
        &mut self,
        l: &Line<'_>,
        option: &str,
        tok: &str,
        min: i64,
        max: i64,
        expected: &str,
    ) -> Option<i64> {
        let digits = tok.strip_prefix('-').unwrap_or(tok);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            self.error(
                &l.span,
                ErrorKind::InvalidValue {
                    option: option.to_owned(),
                    value: tok.to_owned(),
                    expected: expected.to_owned(),
                },
            );
            return None;
        }
        let negative = tok.starts_with('-');
        let value = tok.parse::<i64>().ok();
        let too_small = match value {
            Some(v) => v < min,
            None => negative,
        };
        let too_big = match value {
            Some(v) => v > max,
            None => !negative,
        };
        if too_small {
            self.error(&l.span, ErrorKind::BelowMinimum { option: option.to_owned(), value: tok.to_owned(), min });
            return None;
        }
        if too_big {
            self.error(&l.span, ErrorKind::AboveMaximum { option: option.to_owned(), value: tok.to_owned(), max });
            return None;
        }
        value
    }

    /// One word out of a fixed list.
    pub(super) fn choice<T: Copy>(&mut self, l: &Line<'_>, choices: &[(&str, T)]) -> Option<T> {
        let expected = choice_list(choices);
        let tok = self.token(l, &expected)?;
        match choices.iter().find(|(name, _)| *name == tok) {
            Some(&(_, v)) => Some(v),
            None => {
                self.invalid(l, tok, &expected);
                None
            }
        }
    }
}

/// `a, b or c`.
pub(super) fn choice_list<T>(choices: &[(&str, T)]) -> String {
    let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
    match names.split_last() {
        Some((last, init)) if !init.is_empty() => format!("{} or {last}", init.join(", ")),
        Some((last, _)) => (*last).to_owned(),
        None => String::new(),
    }
}

/// A single-valued scalar set again: Mosquitto lets the last value win, and
/// so do we, with a warning (a `conf.d` file overriding the main file is a
/// legitimate use).
pub(super) fn set_scalar<T>(d: &mut Diag, s: &mut Setting<T>, v: T, l: &Line<'_>, note: Option<&'static str>) {
    if let Some(first) = &s.span {
        d.warn(&l.span, WarningKind::SetAgain { option: l.name.to_owned(), first: first.clone(), note });
    }
    *s = Setting::at(v, l.span.clone());
}

/// A text option set again is an error, as in Mosquitto ("Duplicate ...
/// value"): two paths for one file are never what the user meant.
pub(super) fn set_once<T>(d: &mut Diag, s: &mut Setting<T>, v: T, l: &Line<'_>, note: Option<&'static str>) {
    if let Some(first) = &s.span {
        d.error(&l.span, ErrorKind::Duplicate { option: l.name.to_owned(), first: first.clone(), note });
        return;
    }
    *s = Setting::at(v, l.span.clone());
}
