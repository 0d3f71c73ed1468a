//! The input view: one received PUBLISH, independent of any protocol crate.

/// One MQTT v5 PUBLISH property that mosquitto_sub can print.
///
/// Properties are kept in wire order because the `%j`/`%J` JSON object lists them in the order
/// they arrived (mosquitto's broker sends the subscription identifier first, then the
/// publisher's properties in the order they were sent, then the message expiry interval).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Property {
    /// Payload Format Indicator (0x01): `%F`, JSON `payload-format-indicator`.
    PayloadFormatIndicator(u8),
    /// Message Expiry Interval (0x02), remaining seconds as delivered: `%E`,
    /// JSON `message-expiry-interval`.
    MessageExpiryInterval(u32),
    /// Content Type (0x03): `%C`, JSON `content-type`.
    ContentType(String),
    /// Response Topic (0x08): `%R`, JSON `response-topic`.
    ResponseTopic(String),
    /// Correlation Data (0x09): `%D` (raw bytes), JSON `correlation-data`.
    CorrelationData(Vec<u8>),
    /// Subscription Identifier (0x0B); may repeat: `%S` prints the first one, JSON lists all.
    SubscriptionIdentifier(u32),
    /// Topic Alias (0x23): `%A`, JSON `topic-alias`.
    TopicAlias(u16),
    /// User Property (0x26) as (name, value); may repeat, duplicates kept: `%P`, JSON
    /// `user-properties`.
    UserProperty(String, String),
}

/// The MQTT v5 properties of a message, in wire order.
///
/// An empty list means "no properties" (always the case for MQTT 3.1/3.1.1): then `%j`/`%J`
/// print no `properties` key. To avoid an allocation per message, a receiver can keep one
/// `Props` and [`clear`](Props::clear) it before decoding each PUBLISH.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Props {
    list: Vec<Property>,
}

/// A shared empty property list, for messages without properties.
pub static NO_PROPS: Props = Props::new();

impl Props {
    /// An empty list.
    #[must_use]
    pub const fn new() -> Self {
        Self { list: Vec::new() }
    }

    /// Appends a property (call in wire order).
    pub fn push(&mut self, property: Property) {
        self.list.push(property);
    }

    /// Removes all properties, keeping the allocation.
    pub fn clear(&mut self) {
        self.list.clear();
    }

    /// Whether there are no properties.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// All properties in wire order.
    #[must_use]
    pub fn as_slice(&self) -> &[Property] {
        &self.list
    }

    /// Iterates the properties in wire order.
    pub fn iter(&self) -> std::slice::Iter<'_, Property> {
        self.list.iter()
    }

    /// The first Payload Format Indicator.
    #[must_use]
    pub fn payload_format_indicator(&self) -> Option<u8> {
        self.iter().find_map(|p| match p {
            Property::PayloadFormatIndicator(v) => Some(*v),
            _ => None,
        })
    }

    /// The first Message Expiry Interval.
    #[must_use]
    pub fn message_expiry_interval(&self) -> Option<u32> {
        self.iter().find_map(|p| match p {
            Property::MessageExpiryInterval(v) => Some(*v),
            _ => None,
        })
    }

    /// The first Content Type.
    #[must_use]
    pub fn content_type(&self) -> Option<&str> {
        self.iter().find_map(|p| match p {
            Property::ContentType(v) => Some(v.as_str()),
            _ => None,
        })
    }

    /// The first Response Topic.
    #[must_use]
    pub fn response_topic(&self) -> Option<&str> {
        self.iter().find_map(|p| match p {
            Property::ResponseTopic(v) => Some(v.as_str()),
            _ => None,
        })
    }

    /// The first Correlation Data.
    #[must_use]
    pub fn correlation_data(&self) -> Option<&[u8]> {
        self.iter().find_map(|p| match p {
            Property::CorrelationData(v) => Some(v.as_slice()),
            _ => None,
        })
    }

    /// The first Subscription Identifier.
    #[must_use]
    pub fn subscription_identifier(&self) -> Option<u32> {
        self.iter().find_map(|p| match p {
            Property::SubscriptionIdentifier(v) => Some(*v),
            _ => None,
        })
    }

    /// The first Topic Alias.
    #[must_use]
    pub fn topic_alias(&self) -> Option<u16> {
        self.iter().find_map(|p| match p {
            Property::TopicAlias(v) => Some(*v),
            _ => None,
        })
    }

    /// All User Properties in wire order.
    pub fn user_properties(&self) -> impl Iterator<Item = (&str, &str)> {
        self.iter().filter_map(|p| match p {
            Property::UserProperty(k, v) => Some((k.as_str(), v.as_str())),
            _ => None,
        })
    }
}

impl FromIterator<Property> for Props {
    fn from_iter<I: IntoIterator<Item = Property>>(iter: I) -> Self {
        Self { list: iter.into_iter().collect() }
    }
}

impl Extend<Property> for Props {
    fn extend<I: IntoIterator<Item = Property>>(&mut self, iter: I) {
        self.list.extend(iter);
    }
}

impl<'a> IntoIterator for &'a Props {
    type Item = &'a Property;
    type IntoIter = std::slice::Iter<'a, Property>;
    fn into_iter(self) -> Self::IntoIter {
        self.list.iter()
    }
}

/// A received message as the formatter sees it (borrowed, no copies).
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    /// The topic name (after topic-alias resolution).
    pub topic: &'a str,
    /// The payload, any bytes.
    pub payload: &'a [u8],
    /// The QoS the message was delivered with (0, 1 or 2).
    pub qos: u8,
    /// The RETAIN flag as delivered.
    pub retain: bool,
    /// The packet identifier (0 for QoS 0).
    pub mid: u16,
    /// MQTT v5 properties in wire order (empty for v3.1/v3.1.1).
    pub properties: &'a Props,
}

impl<'a> Message<'a> {
    /// A QoS 0, non-retained message without properties.
    #[must_use]
    pub fn new(topic: &'a str, payload: &'a [u8]) -> Self {
        Self { topic, payload, qos: 0, retain: false, mid: 0, properties: &NO_PROPS }
    }
}
