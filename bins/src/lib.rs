//! The mq binaries.
