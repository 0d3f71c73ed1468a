//! Mosquitto-compatible password files: hashing, parsing, verification and the mq-passwd tool
