//! The driver against a scripted broker on a local socket: what the session decides reaches the wire,
//! and what the wire brings reaches the tool.

use bytes::{Bytes, BytesMut};
use mq_format::Property;
use mq_proto::client::{ClientSession, Options, Qos2Delivery, Violation};
use mq_proto::{Ack, ConnAck, Connect, MAX_PACKET_SIZE, Packet, PacketId, PacketType, ProtocolVersion, Publish, QoS};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use super::{Driver, Event};
use crate::error::ClientError;

const V5: ProtocolVersion = ProtocolVersion::V5;

/// The broker's end of the connection.
struct Broker {
    s: TcpStream,
    buf: BytesMut,
}

impl Broker {
    async fn recv(&mut self) -> Packet {
        loop {
            if let Some(p) = mq_proto::decode(&mut self.buf, V5, MAX_PACKET_SIZE).unwrap() {
                return p;
            }
            assert!(self.s.read_buf(&mut self.buf).await.unwrap() > 0, "the client closed the connection");
        }
    }

    async fn send(&mut self, p: Packet) {
        let mut b = BytesMut::new();
        p.encode(V5, &mut b).unwrap();
        self.s.write_all(&b).await.unwrap();
    }
}

/// A driver connected (MQTT 5, keep alive `keep_alive`) to a scripted broker.
async fn connected(keep_alive: u16, options: Options) -> (Driver, Broker) {
    connected_with(keep_alive, options, ConnAck::default()).await
}

/// [`connected`] with the broker answering `connack`.
async fn connected_with(keep_alive: u16, options: Options, connack: ConnAck) -> (Driver, Broker) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let client = async {
        let mut c = Connect::new(V5, "t");
        c.keep_alive = keep_alive;
        let s = TcpStream::connect(addr).await.unwrap();
        Driver::over(crate::transport::Stream::Tcp(s), ClientSession::new(c, options)).await.unwrap()
    };
    let broker = async {
        let (s, _) = listener.accept().await.unwrap();
        let mut b = Broker { s, buf: BytesMut::new() };
        assert!(matches!(b.recv().await, Packet::Connect(_)));
        b.send(Packet::ConnAck(connack)).await;
        b
    };
    tokio::join!(client, broker)
}

fn id(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

#[tokio::test]
async fn acknowledgements_reach_the_tool_and_violations_end_the_connection() {
    let (mut d, mut b) = connected(60, Options::default()).await;
    let mid = d.publish(Publish::new("t", QoS::AtLeastOnce, Bytes::from_static(b"x"))).unwrap();
    // Requests are encoded; they go out when the driver writes.
    d.flush().await.unwrap();
    let Packet::Publish(p) = b.recv().await else { panic!("not a PUBLISH") };
    assert_eq!(p.packet_id, Some(id(mid)));
    b.send(Packet::PubAck(Ack::new(id(mid)))).await;
    assert!(matches!(d.next().await.unwrap(), Event::Published { mid: m, .. } if m == mid));
    b.send(Packet::PubAck(Ack::new(id(7)))).await;
    let e = d.next().await.unwrap_err();
    assert!(matches!(e, ClientError::Violation(Violation::UnknownPacketId { packet: PacketType::PubAck, id: 7 })));
    assert_eq!(e.to_string(), "Protocol error: PUBACK for packet identifier 7, which is not in use");
}

#[tokio::test]
async fn a_qos_2_message_keeps_its_property_order_until_pubrel() {
    let (mut d, mut b) = connected(60, Options::default()).await;
    let broker = async {
        // PUBLISH QoS 2, topic "t", packet id 5, properties: user-property (a, b), then content-type "c".
        b.s.write_all(b"\x34\x12\x00\x01t\x00\x05\x0b\x26\x00\x01a\x00\x01b\x03\x00\x01cP").await.unwrap();
        assert_eq!(b.recv().await, Packet::PubRec(Ack::new(id(5))));
        b.send(Packet::PubRel(Ack::new(id(5)))).await;
        assert_eq!(b.recv().await, Packet::PubComp(Ack::new(id(5))));
    };
    let (event, ()) = tokio::join!(d.next(), broker);
    let Event::Message { msg, ack: None } = event.unwrap() else { panic!("not a message") };
    let props: Vec<&Property> = msg.props.iter().collect();
    assert!(matches!(props.as_slice(), [Property::UserProperty(..), Property::ContentType(_)]), "{props:?}");
}

#[tokio::test]
async fn held_acknowledgements_go_when_the_tool_says() {
    let options = Options { manual_acks: true, qos2_delivery: Qos2Delivery::OnPublish, ..Options::default() };
    let (mut d, mut b) = connected(60, options).await;
    let mut p = Publish::new("t", QoS::AtLeastOnce, Bytes::from_static(b"x"));
    p.packet_id = Some(id(3));
    b.send(Packet::Publish(p)).await;
    let Event::Message { ack: Some(token), .. } = d.next().await.unwrap() else { panic!("no token") };
    d.ack(token).unwrap();
    d.flush().await.unwrap();
    assert_eq!(b.recv().await, Packet::PubAck(Ack::new(id(3))));
}

#[tokio::test]
async fn large_payloads_keep_only_their_front_when_asked() {
    let (mut d, mut b) = connected(60, Options::default()).await;
    d.keep_front(1 << 20, 20);
    let payload: Vec<u8> = (0..2u32 << 20).map(|i| i as u8).collect();
    let send = async {
        b.send(Packet::Publish(Publish::new("big", QoS::AtMostOnce, payload.clone()))).await;
        b.send(Packet::Publish(Publish::new("small", QoS::AtMostOnce, Bytes::from_static(b"s")))).await;
    };
    let (event, ()) = tokio::join!(d.next(), send);
    let Event::Message { msg, .. } = event.unwrap() else { panic!("not a message") };
    assert_eq!((&*msg.publish.topic, &msg.publish.payload[..]), ("big", &payload[..20]));
    let Event::Message { msg, .. } = d.next().await.unwrap() else { panic!("not a message") };
    assert_eq!(&*msg.publish.topic, "small");
}

#[tokio::test]
async fn caller_buffers_are_written_in_batches_or_directly() {
    let (mut d, mut b) = connected(60, Options::default()).await;
    let small = vec![1u8; 100];
    let large = vec![2u8; 200 * 1024];
    d.publish_slice(Publish::new("s", QoS::AtMostOnce, Bytes::new()), &small).await.unwrap();
    assert!(d.unwritten() > 100, "a small payload waits in the batch");
    assert!(d.next_or_written().await.unwrap().is_none());
    assert_eq!(d.unwritten(), 0);
    let receive = async { (b.recv().await, b.recv().await) };
    let (sent, (first, second)) =
        tokio::join!(d.publish_slice(Publish::new("l", QoS::AtLeastOnce, Bytes::new()), &large), receive);
    sent.unwrap();
    let Packet::Publish(p) = first else { panic!("not a PUBLISH") };
    assert_eq!((&*p.topic, &p.payload[..]), ("s", &small[..]));
    let Packet::Publish(p) = second else { panic!("not a PUBLISH") };
    assert_eq!((&*p.topic, p.payload.len(), p.qos), ("l", large.len(), QoS::AtLeastOnce));
}

#[tokio::test(start_paused = true)]
async fn a_quiet_connection_pings_and_a_silent_broker_is_lost() {
    let (mut d, mut b) = connected(5, Options::default()).await;
    let started = tokio::time::Instant::now();
    let (lost, ping) = tokio::join!(d.next(), b.recv());
    assert_eq!(ping, Packet::PingReq);
    assert!(matches!(lost, Err(ClientError::ConnectionLost)), "{lost:?}");
    assert!(started.elapsed() >= std::time::Duration::from_secs(10));
}

#[tokio::test]
async fn a_tool_that_stops_reading_waits_quietly_with_keep_alive_off() {
    // The broker turns keep alive off (Server Keep Alive 0): with nothing to read, write or time, the
    // driver waits (and does not trip over having nothing to wait for).
    let mut connack = ConnAck::default();
    connack.properties.server_keep_alive = Some(0);
    let (mut d, _b) = connected_with(60, Options::default(), connack).await;
    let idle = tokio::time::timeout(std::time::Duration::from_millis(50), d.poll(false)).await;
    assert!(idle.is_err(), "{idle:?}");
}
