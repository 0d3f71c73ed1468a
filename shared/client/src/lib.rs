//! MQTT client tools on the mq protocol crate: mq-pub, mq-sub, mq-rr
