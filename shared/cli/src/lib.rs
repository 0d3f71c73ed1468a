//! Conventions shared by every mq binary: argument parsing in Mosquitto's style, options files, exit codes
