//! The mq MQTT broker: mosquitto.conf, sessions, routing, $SYS
