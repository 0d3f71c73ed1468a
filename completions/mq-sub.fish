complete -c mq-sub -s t -l topic -d 'Topic filter to subscribe to; repeat for more' -r
complete -c mq-sub -s q -l qos -d 'QoS to subscribe with: 0, 1 or 2' -r -f -a "0\t''
1\t''
2\t''"
complete -c mq-sub -s U -l unsubscribe -d 'Unsubscribe from this filter after subscribing (to edit a persistent session); repeatable' -r
complete -c mq-sub -s T -l filter-out -d 'Do not print messages whose topic matches this filter; repeatable' -r
complete -c mq-sub -s C -d 'Exit after this many messages' -r
complete -c mq-sub -s W -d 'Exit after this many seconds, with status 27 and "Timed out"' -r
complete -c mq-sub -l random-filter -d 'Print only about this percentage of the messages, 0.1 to 100' -r
complete -c mq-sub -s F -d 'Print each message with this format instead: %t topic, %p payload, %x/%X payload in hex, %l length, %q QoS, %r retain, %m message id, %j/%J JSON, %I/%U time, MQTT 5 properties %A %C %D %E %F %P %R %S, @<c> strftime codes, @N nanoseconds, \\n \\t \\e ... escapes; flags, width and precision as printf. Exactly mosquitto_sub\'s format language' -r
complete -c mq-sub -l exec -d 'Run this shell command (sh -c) for each message instead of printing it. The payload is on the command\'s stdin; MQ_TOPIC, MQ_QOS, MQ_RETAIN, MQ_MID, MQ_DUP, MQ_PAYLOAD_LENGTH and, for MQTT 5, MQ_CONTENT_TYPE, MQ_RESPONSE_TOPIC, MQ_CORRELATION_DATA (hex), MQ_PAYLOAD_FORMAT, MQ_MESSAGE_EXPIRY, MQ_SUBSCRIPTION_IDS, MQ_USER_PROPERTIES (JSON array of [key, value]) and MQ_USER_PROPERTY_<KEY> are in its environment. QoS 1 and 2 messages are acknowledged only when their command has finished, so nothing is lost if the subscriber dies first (with -c the broker sends it again)' -r
complete -c mq-sub -l exec-jobs -d 'Run up to this many commands at once (messages start in order but may finish out of order)' -r
complete -c mq-sub -s h -l host -d 'MQTT host to connect to [default: localhost]' -r -f -a "(__fish_print_hostnames)"
complete -c mq-sub -s p -l port -d 'Network port to connect to [default: 1883]' -r
complete -c mq-sub -s L -l url -d 'Broker, credentials and topic as one URL: mqtt://[username[:password]@]host[:port]/topic' -r
complete -c mq-sub -l unix -d 'Connect through a unix domain socket instead of TCP (replaces -h and -p)' -r -F
complete -c mq-sub -s A -d 'Bind the outgoing socket to this local host name or address' -r -f -a "(__fish_print_hostnames)"
complete -c mq-sub -l proxy -d 'Connect through a SOCKS5 proxy: socks5h://[username[:password]@]host[:port] (port 1080 by default; %25, %3A and %40 in the credentials stand for \'%\', \':\' and \'@\')' -r
complete -c mq-sub -s V -l protocol-version -d 'MQTT version: mqttv5 (or 5), mqttv311 (or 311), mqttv31 (or 31) [default: mqttv311; mq-rr: mqttv5]' -r -f -a "mqttv5\t''
mqttv311\t''
mqttv31\t''
5\t''
311\t''
31\t''"
complete -c mq-sub -s k -l keepalive -d 'Keep alive in seconds, 5 to 65535' -r
complete -c mq-sub -s i -l id -d 'Client identifier [default: empty, so the broker assigns one]' -r
complete -c mq-sub -s I -l id-prefix -d 'Client identifier made of this prefix and the process id (for brokers using clientid_prefixes)' -r
complete -c mq-sub -s x -d 'MQTT 5 session expiry interval in seconds: 0 to 4294967294, or -1, 4294967295 or ∞ for never [default: never with -c, else 0]' -r
complete -c mq-sub -s M -d 'Maximum number of QoS 1 and 2 messages in flight at once [default: 20]' -r
complete -c mq-sub -s u -l username -d 'User name' -r
complete -c mq-sub -s P -l pw -d 'Password. It is visible to other users in `ps`: prefer --pw-file, --pw-prompt or the MQ_PASSWORD environment variable (used when a user name is given and none of -P, --pw-file, --pw-prompt is)' -r
complete -c mq-sub -l pw-file -d 'Read the password from the first line of this file' -r -F
complete -c mq-sub -l will-topic -d 'Topic of the will, the message the broker publishes if this client goes away without disconnecting' -r
complete -c mq-sub -l will-payload -d 'Payload of the will [default: empty]' -r
complete -c mq-sub -l will-qos -d 'QoS of the will' -r -f -a "0\t''
1\t''
2\t''"
complete -c mq-sub -s D -l property -d 'MQTT 5 property: -D <command> <name> <value>, or -D <command> user-property <key> <value>. Commands: connect, publish, subscribe, unsubscribe, disconnect, will. Names as in the specification, lower case with \'-\' (e.g. -D publish content-type text/plain). Implies -V 5' -r
complete -c mq-sub -l cafile -d 'Trust the CA certificates of this PEM file (turns TLS on)' -r -F
complete -c mq-sub -l capath -d 'Trust the CA certificates of every PEM file in this directory (turns TLS on)' -r -F
complete -c mq-sub -l cert -d 'Client certificate (PEM), for brokers that require one; needs --key' -r -F
complete -c mq-sub -l key -d 'Client private key (PEM, not encrypted); needs --cert' -r -F
complete -c mq-sub -l keyform -d 'Key type: pem (engine is refused: rustls has no OpenSSL engines)' -r
complete -c mq-sub -l ciphers -d 'TLS 1.2 cipher suites as an OpenSSL cipher list, mapped onto rustls\' suites' -r
complete -c mq-sub -l tls-version -d 'Lowest TLS version to use: tlsv1.3 or tlsv1.2 (tlsv1.1 offers 1.2 and 1.3: rustls has no 1.1)' -r
complete -c mq-sub -l tls-alpn -d 'Application protocol to ask for (ALPN), e.g. x-amzn-mqtt-ca' -r
complete -c mq-sub -l tls-engine -d 'OpenSSL engine (refused: rustls has no OpenSSL engines)' -r
complete -c mq-sub -l tls-engine-kpass-sha1 -d 'SHA1 of the engine key password (refused: rustls has no OpenSSL engines)' -r
complete -c mq-sub -l psk -d 'Pre-shared key in hexadecimal (refused: rustls has no TLS-PSK)' -r
complete -c mq-sub -l psk-identity -d 'Identity for TLS-PSK (refused: rustls has no TLS-PSK)' -r
complete -c mq-sub -s E -d 'Exit as soon as the subscriptions are acknowledged (e.g. to create a persistent session with -c)'
complete -c mq-sub -s R -d 'Do not print retained (stale) messages; with MQTT 5 the broker is asked not to send them'
complete -c mq-sub -l retained-only -d 'Print only retained messages and exit at the first message that is not retained'
complete -c mq-sub -l remove-retained -d 'Clear each retained message received (publish an empty retained message to its topic); -T filters still apply'
complete -c mq-sub -l retain-as-published -d 'MQTT 5: keep the retain flag of messages as published'
complete -c mq-sub -s v -l verbose -d 'Print the topic before each payload: `topic payload`'
complete -c mq-sub -s N -d 'Do not add an end of line after each message'
complete -c mq-sub -l pretty -d 'Indent the JSON of %j and %J'
complete -c mq-sub -l exec-stop-on-error -d 'Stop at the first command that fails (exit status not 0): its message is not acknowledged, so with -c the broker delivers it again next time; mq-sub exits with status 1. Without this option a failure is reported on stderr and the message counts as handled'
complete -c mq-sub -l nodelay -d 'Disable Nagle\'s algorithm (TCP_NODELAY) to send small packets sooner'
complete -c mq-sub -s c -l disable-clean-session -d 'Keep the session when disconnecting (clean session off); needs -i. With MQTT 5 the session never expires unless -x says otherwise'
complete -c mq-sub -l pw-prompt -d 'Ask for the password on the terminal'
complete -c mq-sub -l will-retain -d 'Retain the will'
complete -c mq-sub -s d -l debug -d 'Print every packet sent and received, in Mosquitto\'s format, on stdout'
complete -c mq-sub -l quiet -d 'Do not print error messages (usage errors are still printed)'
complete -c mq-sub -l tls-use-os-certs -d 'Trust the operating system\'s CA certificates (turns TLS on)'
complete -c mq-sub -l insecure -d 'Do not check that the server\'s certificate is for the host name connected to (the certificate chain is still verified). Testing only'
complete -c mq-sub -l help -d 'Print usage (long form only: -h is --host)'
complete -c mq-sub -l version -d 'Print the version (long form only: -V is --protocol-version)'
