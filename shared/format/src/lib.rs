//! Message output of `mq-sub` and `mq-rr`, byte-identical to `mosquitto_sub` 2.0.
//!
//! Three output modes, as in mosquitto_sub:
//! * default ([`OutputMode::Plain`]): the payload and a newline; an empty payload prints nothing;
//! * `-v` ([`OutputMode::Verbose`]): `topic payload`, or `topic (null)` for an empty payload;
//! * `-F <format>` ([`OutputMode::Format`]): the template language parsed by [`Format::parse`]:
//!   `%` fields with `-`/`0` flags, width and precision (`%A %C %D %E %F %I %j %J %l %m %P %p %q
//!   %R %r %S %t %U %x %X %%`), `@<c>` strftime conversions in local time plus `@@` and `@N`
//!   (nanoseconds), and `\\ \0 \a \e \n \r \t \v` escapes.
//!
//! `-N` ([`Printer::with_eol`]) drops the newline and `--pretty` ([`Printer::with_pretty`])
//! indents `%j`/`%J` JSON.
//!
//! Fidelity notes:
//! * The format string is validated at startup with mosquitto's rules and messages
//!   ([`FormatError`]), and replayed per message with the printer's own (slightly different)
//!   reading of flags, as mosquitto does.
//! * mosquitto's quirks are kept: e.g. `%-p` pads with as many spaces as the payload is long,
//!   `%10x` counts hex digits against the byte length, a missing `%A/%E/%F/%S` fills its width
//!   with the pad character, strings stop at a NUL like C strings.
//! * `%j`/`%J` reproduce cJSON's output (key order, number rendering, escaping, `--pretty` tab
//!   layout) and its JSON validity rules for `%J`.
//! * One deliberate difference: the `%j`/`%J` `tst` member uses the corrected form of
//!   mosquitto 2.0.13+ (`2026-11-25T19:35:56.026730+0000`) instead of 2.0.11's malformed
//!   `2026-11-25T19:35:56.026730Z+0000`.
//! * Time comes from the caller (`now`), so output is reproducible; it is shown in the zone of a
//!   [`Zone`], by default [`Zone::local`], which honours `TZ` like libc. strftime conversions
//!   follow glibc in the "C" locale.
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use mq_format::{Format, Message, OutputMode, Printer, Property, Props, Zone};
//!
//! // At startup: `-F '%t %C %p'` (errors print as mosquitto_sub does: `Error: ...`).
//! let format = Format::parse("@H:@M %t %C %p")?;
//! let printer = Printer::new(OutputMode::Format(format)).with_zone(Zone::utc());
//!
//! // Per message: properties in wire order, the clock passed in.
//! let props: Props = [Property::ContentType("text/plain".into())].into_iter().collect();
//! let mut msg = Message::new("sensors/t1", b"21.5");
//! msg.properties = &props;
//! let mut out = Vec::new();
//! printer.write(&msg, &mut out, UNIX_EPOCH + Duration::from_secs(3_600))?;
//! assert_eq!(out, b"01:00 sensors/t1 text/plain 21.5\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod json;
mod message;
mod spec;
mod time;
mod write;

pub use error::{FormatError, WriteError};
pub use message::{Message, NO_PROPS, Property, Props};
pub use spec::Format;
pub use time::Zone;
pub use write::{OutputMode, Printer};
