//! `-D <command> <name> <value>`: MQTT 5 properties given on the command line (Mosquitto:
//! `client/client_props.c`).
//!
//! clap hands over all `-D` values as one flat list; each occurrence is re-split by its property name
//! (a `user-property` takes a key and a value, every other property one value), which is unambiguous.
//! Errors use Mosquitto's messages. Values are range-checked for their type, where Mosquitto silently
//! truncates them with atoi().

use bytes::Bytes;
use mq_proto::properties::id;
use mq_proto::{
    ConnectProperties, DisconnectProperties, PublishProperties, SubscribeProperties, UnsubscribeProperties,
    WillProperties,
};

use crate::error::UsageError;

/// The properties for every packet the tools send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PropertySet {
    pub connect: ConnectProperties,
    pub publish: PublishProperties,
    pub subscribe: SubscribeProperties,
    pub unsubscribe: UnsubscribeProperties,
    pub disconnect: DisconnectProperties,
    pub will: WillProperties,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    Connect,
    Publish,
    Subscribe,
    Unsubscribe,
    Disconnect,
    Will,
    /// Known to Mosquitto's parser but not something a client tool sends properties on.
    Unsupported,
}

fn command(name: &str) -> Option<Command> {
    Some(match name.to_ascii_lowercase().as_str() {
        "connect" => Command::Connect,
        "publish" => Command::Publish,
        "subscribe" => Command::Subscribe,
        "unsubscribe" => Command::Unsubscribe,
        "disconnect" => Command::Disconnect,
        "will" => Command::Will,
        "connack" | "puback" | "pubrec" | "pubrel" | "pubcomp" | "suback" | "unsuback" | "pingreq" | "pingresp"
        | "auth" => Command::Unsupported,
        _ => return None,
    })
}

/// Value type of a property, as far as the command line is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Byte,
    U16,
    U32,
    VarInt,
    Str,
    Binary,
    Pair,
}

fn property(name: &str) -> Option<(u8, Kind)> {
    Some(match name.to_ascii_lowercase().as_str() {
        "payload-format-indicator" => (id::PAYLOAD_FORMAT_INDICATOR, Kind::Byte),
        "message-expiry-interval" => (id::MESSAGE_EXPIRY_INTERVAL, Kind::U32),
        "content-type" => (id::CONTENT_TYPE, Kind::Str),
        "response-topic" => (id::RESPONSE_TOPIC, Kind::Str),
        "correlation-data" => (id::CORRELATION_DATA, Kind::Binary),
        "subscription-identifier" => (id::SUBSCRIPTION_IDENTIFIER, Kind::VarInt),
        "session-expiry-interval" => (id::SESSION_EXPIRY_INTERVAL, Kind::U32),
        "assigned-client-identifier" => (id::ASSIGNED_CLIENT_IDENTIFIER, Kind::Str),
        "server-keep-alive" => (id::SERVER_KEEP_ALIVE, Kind::U16),
        "authentication-method" => (id::AUTHENTICATION_METHOD, Kind::Str),
        "authentication-data" => (id::AUTHENTICATION_DATA, Kind::Binary),
        "request-problem-information" => (id::REQUEST_PROBLEM_INFORMATION, Kind::Byte),
        "will-delay-interval" => (id::WILL_DELAY_INTERVAL, Kind::U32),
        "request-response-information" => (id::REQUEST_RESPONSE_INFORMATION, Kind::Byte),
        "response-information" => (id::RESPONSE_INFORMATION, Kind::Str),
        "server-reference" => (id::SERVER_REFERENCE, Kind::Str),
        "reason-string" => (id::REASON_STRING, Kind::Str),
        "receive-maximum" => (id::RECEIVE_MAXIMUM, Kind::U16),
        "topic-alias-maximum" => (id::TOPIC_ALIAS_MAXIMUM, Kind::U16),
        "topic-alias" => (id::TOPIC_ALIAS, Kind::U16),
        "maximum-qos" => (id::MAXIMUM_QOS, Kind::Byte),
        "retain-available" => (id::RETAIN_AVAILABLE, Kind::Byte),
        "user-property" => (id::USER_PROPERTY, Kind::Pair),
        "maximum-packet-size" => (id::MAXIMUM_PACKET_SIZE, Kind::U32),
        "wildcard-subscription-available" => (id::WILDCARD_SUBSCRIPTION_AVAILABLE, Kind::Byte),
        "subscription-identifier-available" => (id::SUBSCRIPTION_IDENTIFIER_AVAILABLE, Kind::Byte),
        "shared-subscription-available" => (id::SHARED_SUBSCRIPTION_AVAILABLE, Kind::Byte),
        _ => return None,
    })
}

/// Whether MQTT 5 allows property `pid` on the packet `cmd` sends (MQTT 5 §2.2.2.2, Table 2-4).
fn allowed(cmd: Command, pid: u8) -> bool {
    let list: &[u8] = match cmd {
        Command::Connect => &[
            id::SESSION_EXPIRY_INTERVAL,
            id::AUTHENTICATION_METHOD,
            id::AUTHENTICATION_DATA,
            id::REQUEST_PROBLEM_INFORMATION,
            id::REQUEST_RESPONSE_INFORMATION,
            id::RECEIVE_MAXIMUM,
            id::TOPIC_ALIAS_MAXIMUM,
            id::USER_PROPERTY,
            id::MAXIMUM_PACKET_SIZE,
        ],
        Command::Publish => &[
            id::PAYLOAD_FORMAT_INDICATOR,
            id::MESSAGE_EXPIRY_INTERVAL,
            id::CONTENT_TYPE,
            id::RESPONSE_TOPIC,
            id::CORRELATION_DATA,
            id::SUBSCRIPTION_IDENTIFIER,
            id::TOPIC_ALIAS,
            id::USER_PROPERTY,
        ],
        Command::Subscribe => &[id::SUBSCRIPTION_IDENTIFIER, id::USER_PROPERTY],
        Command::Unsubscribe => &[id::USER_PROPERTY],
        Command::Disconnect => {
            &[id::SESSION_EXPIRY_INTERVAL, id::REASON_STRING, id::SERVER_REFERENCE, id::USER_PROPERTY]
        }
        Command::Will => &[
            id::PAYLOAD_FORMAT_INDICATOR,
            id::MESSAGE_EXPIRY_INTERVAL,
            id::CONTENT_TYPE,
            id::RESPONSE_TOPIC,
            id::CORRELATION_DATA,
            id::WILL_DELAY_INTERVAL,
            id::USER_PROPERTY,
        ],
        Command::Unsupported => return true,
    };
    list.contains(&pid)
}

/// A parsed property value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Int(u32),
    Str(String),
    Bin(Bytes),
    Pair(String, String),
}

fn parse_value(kind: Kind, name: &str, raw: &[String]) -> Result<Value, UsageError> {
    let out_of_range = |v: &str| UsageError::new(format!("Property value ({v}) out of range for property {name}.\n"));
    let int = |max: u64| -> Result<Value, UsageError> {
        let v = &raw[0];
        match v.parse::<u64>() {
            Ok(n) if n <= max => Ok(Value::Int(n as u32)),
            _ => Err(out_of_range(v)),
        }
    };
    let too_long = |s: &str| s.len() > usize::from(u16::MAX);
    match kind {
        Kind::Byte => int(u64::from(u8::MAX)),
        Kind::U16 => int(u64::from(u16::MAX)),
        Kind::U32 => int(u64::from(u32::MAX)),
        Kind::VarInt => int(u64::from(mq_proto::MAX_VARINT)),
        Kind::Str | Kind::Binary if too_long(&raw[0]) => {
            Err(UsageError::new(format!("Property value too long for property {name}.\n")))
        }
        Kind::Str => Ok(Value::Str(raw[0].clone())),
        Kind::Binary => Ok(Value::Bin(Bytes::copy_from_slice(raw[0].as_bytes()))),
        Kind::Pair if too_long(&raw[0]) || too_long(&raw[1]) => {
            Err(UsageError::new(format!("Property value too long for property {name}.\n")))
        }
        Kind::Pair => Ok(Value::Pair(raw[0].clone(), raw[1].clone())),
    }
}

/// Parses the flat list of `-D` values into properties per packet.
pub fn parse(values: &[String]) -> Result<PropertySet, UsageError> {
    let not_enough = || UsageError::new("--property argument given but not enough arguments specified.\n");
    let mut set = PropertySet::default();
    let mut rest = values;
    while !rest.is_empty() {
        let [cmd_name, prop_name, tail @ ..] = rest else { return Err(not_enough()) };
        let cmd =
            command(cmd_name).ok_or_else(|| UsageError::new("Invalid command given in --property argument.\n"))?;
        let (pid, kind) = property(prop_name)
            .ok_or_else(|| UsageError::new("Invalid property name given in --property argument.\n"))?;
        if !allowed(cmd, pid) {
            return Err(UsageError::new(format!(
                "{prop_name} property not allowed for {cmd_name} in --property argument.\n"
            )));
        }
        let n = if kind == Kind::Pair { 2 } else { 1 };
        if tail.len() < n {
            return Err(not_enough());
        }
        let (raw, next) = tail.split_at(n);
        rest = next;
        let not_supported =
            || UsageError::new(format!("{prop_name} property not supported for {cmd_name} in --property argument.\n"));
        // As Mosquitto: a client never sends a subscription identifier on PUBLISH, and only the
        // identifier and user properties go on SUBSCRIBE.
        match (cmd, pid) {
            (Command::Unsupported, _) | (Command::Publish, id::SUBSCRIPTION_IDENTIFIER) => return Err(not_supported()),
            _ => {}
        }
        let value = parse_value(kind, prop_name, raw)?;
        set_value(&mut set, cmd, pid, value).map_err(|()| not_supported())?;
    }
    Ok(set)
}

fn set_value(set: &mut PropertySet, cmd: Command, pid: u8, value: Value) -> Result<(), ()> {
    use Value::*;
    // Byte-valued properties are all 0/1 flags on the wire; the codec refuses anything else when it
    // reads, so other values are sent as given and left to the broker to judge, as Mosquitto does.
    let byte = |v: u32| v as u8;
    match (cmd, value) {
        (_, Pair(k, v)) => match cmd {
            Command::Connect => set.connect.user_properties.push((k, v)),
            Command::Publish => set.publish.user_properties.push((k, v)),
            Command::Subscribe => set.subscribe.user_properties.push((k, v)),
            Command::Unsubscribe => set.unsubscribe.user_properties.push((k, v)),
            Command::Disconnect => set.disconnect.user_properties.push((k, v)),
            Command::Will => set.will.user_properties.push((k, v)),
            Command::Unsupported => return Err(()),
        },
        (Command::Connect, Int(n)) => match pid {
            id::SESSION_EXPIRY_INTERVAL => set.connect.session_expiry_interval = Some(n),
            id::REQUEST_PROBLEM_INFORMATION => set.connect.request_problem_information = Some(byte(n)),
            id::REQUEST_RESPONSE_INFORMATION => set.connect.request_response_information = Some(byte(n)),
            id::RECEIVE_MAXIMUM => set.connect.receive_maximum = Some(n as u16),
            id::TOPIC_ALIAS_MAXIMUM => set.connect.topic_alias_maximum = Some(n as u16),
            id::MAXIMUM_PACKET_SIZE => set.connect.maximum_packet_size = Some(n),
            _ => return Err(()),
        },
        (Command::Connect, Str(s)) if pid == id::AUTHENTICATION_METHOD => set.connect.authentication_method = Some(s),
        (Command::Connect, Bin(b)) if pid == id::AUTHENTICATION_DATA => set.connect.authentication_data = Some(b),
        (Command::Publish, Int(n)) => match pid {
            id::PAYLOAD_FORMAT_INDICATOR => set.publish.payload_format_indicator = Some(byte(n)),
            id::MESSAGE_EXPIRY_INTERVAL => set.publish.message_expiry_interval = Some(n),
            id::TOPIC_ALIAS => set.publish.topic_alias = Some(n as u16),
            _ => return Err(()),
        },
        (Command::Publish, Str(s)) => match pid {
            id::CONTENT_TYPE => set.publish.content_type = Some(s),
            id::RESPONSE_TOPIC => set.publish.response_topic = Some(s),
            _ => return Err(()),
        },
        (Command::Publish, Bin(b)) => set.publish.correlation_data = Some(b),
        (Command::Subscribe, Int(n)) => set.subscribe.subscription_identifier = Some(n),
        (Command::Disconnect, Int(n)) => set.disconnect.session_expiry_interval = Some(n),
        (Command::Disconnect, Str(s)) => match pid {
            id::REASON_STRING => set.disconnect.reason_string = Some(s),
            id::SERVER_REFERENCE => set.disconnect.server_reference = Some(s),
            _ => return Err(()),
        },
        (Command::Will, Int(n)) => match pid {
            id::PAYLOAD_FORMAT_INDICATOR => set.will.payload_format_indicator = Some(byte(n)),
            id::MESSAGE_EXPIRY_INTERVAL => set.will.message_expiry_interval = Some(n),
            id::WILL_DELAY_INTERVAL => set.will.will_delay_interval = Some(n),
            _ => return Err(()),
        },
        (Command::Will, Str(s)) => match pid {
            id::CONTENT_TYPE => set.will.content_type = Some(s),
            id::RESPONSE_TOPIC => set.will.response_topic = Some(s),
            _ => return Err(()),
        },
        (Command::Will, Bin(b)) => set.will.correlation_data = Some(b),
        _ => return Err(()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn several_properties_split_by_name() {
        let set = parse(&strings(&[
            "publish",
            "user-property",
            "k",
            "v",
            "PUBLISH",
            "content-type",
            "text/plain",
            "connect",
            "session-expiry-interval",
            "10",
            "publish",
            "correlation-data",
            "abc",
            "subscribe",
            "subscription-identifier",
            "7",
            "will",
            "will-delay-interval",
            "3",
        ]))
        .unwrap();
        assert_eq!(set.publish.user_properties, [("k".to_string(), "v".to_string())]);
        assert_eq!(set.publish.content_type.as_deref(), Some("text/plain"));
        assert_eq!(set.publish.correlation_data.as_deref(), Some(&b"abc"[..]));
        assert_eq!(set.connect.session_expiry_interval, Some(10));
        assert_eq!(set.subscribe.subscription_identifier, Some(7));
        assert_eq!(set.will.will_delay_interval, Some(3));
    }

    #[test]
    fn mosquitto_errors() {
        let err = |v: &[&str]| parse(&strings(v)).unwrap_err().message;
        assert_eq!(err(&["publish", "foo", "bar"]), "Invalid property name given in --property argument.\n");
        assert_eq!(err(&["nope", "content-type", "x"]), "Invalid command given in --property argument.\n");
        assert_eq!(
            err(&["connect", "content-type", "x"]),
            "content-type property not allowed for connect in --property argument.\n"
        );
        assert_eq!(
            err(&["publish", "subscription-identifier", "1"]),
            "subscription-identifier property not supported for publish in --property argument.\n"
        );
        assert_eq!(
            err(&["publish", "user-property", "k"]),
            "--property argument given but not enough arguments specified.\n"
        );
        assert_eq!(
            err(&["publish", "topic-alias", "70000"]),
            "Property value (70000) out of range for property topic-alias.\n"
        );
    }

    #[test]
    fn empty_is_empty() {
        assert_eq!(parse(&[]).unwrap(), PropertySet::default());
    }
}
