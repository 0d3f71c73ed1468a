complete -c mq-rr -s t -l topic -d 'Topic to publish the request to' -r
complete -c mq-rr -s e -d 'Topic the response is expected on (sent as the request\'s Response Topic property)' -r
complete -c mq-rr -s m -l message -d 'Send this text as the payload' -r
complete -c mq-rr -s f -l file -d 'Send the contents of a file as the payload, streamed from disk (up to the MQTT limit of about 256 MiB). On a terminal a progress bar shows on stderr' -r -F
complete -c mq-rr -s q -l qos -d 'QoS for the subscription and the request: 0, 1 or 2' -r -f -a "0\t''
1\t''
2\t''"
complete -c mq-rr -s W -d 'Give up after this many seconds, with status 27 and "Timed out"' -r
complete -c mq-rr -s F -d 'Print each message with this format instead: %t topic, %p payload, %x/%X payload in hex, %l length, %q QoS, %r retain, %m message id, %j/%J JSON, %I/%U time, MQTT 5 properties %A %C %D %E %F %P %R %S, @<c> strftime codes, @N nanoseconds, \\n \\t \\e ... escapes; flags, width and precision as printf. Exactly mosquitto_sub\'s format language' -r
complete -c mq-rr -s h -l host -d 'MQTT host to connect to [default: localhost]' -r -f -a "(__fish_print_hostnames)"
complete -c mq-rr -s p -l port -d 'Network port to connect to [default: 1883]' -r
complete -c mq-rr -s L -l url -d 'Broker, credentials and topic as one URL: mqtt://[username[:password]@]host[:port]/topic' -r
complete -c mq-rr -l unix -d 'Connect through a unix domain socket instead of TCP (replaces -h and -p)' -r -F
complete -c mq-rr -s A -d 'Bind the outgoing socket to this local host name or address' -r -f -a "(__fish_print_hostnames)"
complete -c mq-rr -l proxy -d 'Connect through a SOCKS5 proxy: socks5h://[username[:password]@]host[:port] (port 1080 by default; %25, %3A and %40 in the credentials stand for \'%\', \':\' and \'@\')' -r
complete -c mq-rr -s V -l protocol-version -d 'MQTT version: mqttv5 (or 5), mqttv311 (or 311), mqttv31 (or 31) [default: mqttv311; mq-rr: mqttv5]' -r -f -a "mqttv5\t''
mqttv311\t''
mqttv31\t''
5\t''
311\t''
31\t''"
complete -c mq-rr -s k -l keepalive -d 'Keep alive in seconds, 5 to 65535' -r
complete -c mq-rr -s i -l id -d 'Client identifier [default: empty, so the broker assigns one]' -r
complete -c mq-rr -s I -l id-prefix -d 'Client identifier made of this prefix and the process id (for brokers using clientid_prefixes)' -r
complete -c mq-rr -s x -d 'MQTT 5 session expiry interval in seconds: 0 to 4294967294, or -1, 4294967295 or ∞ for never [default: never with -c, else 0]' -r
complete -c mq-rr -s M -d 'Maximum number of QoS 1 and 2 messages in flight at once [default: 20]' -r
complete -c mq-rr -s u -l username -d 'User name' -r
complete -c mq-rr -s P -l pw -d 'Password. It is visible to other users in `ps`: prefer --pw-file, --pw-prompt or the MQ_PASSWORD environment variable (used when a user name is given and none of -P, --pw-file, --pw-prompt is)' -r
complete -c mq-rr -l pw-file -d 'Read the password from the first line of this file' -r -F
complete -c mq-rr -l will-topic -d 'Topic of the will, the message the broker publishes if this client goes away without disconnecting' -r
complete -c mq-rr -l will-payload -d 'Payload of the will [default: empty]' -r
complete -c mq-rr -l will-qos -d 'QoS of the will' -r -f -a "0\t''
1\t''
2\t''"
complete -c mq-rr -s D -l property -d 'MQTT 5 property: -D <command> <name> <value>, or -D <command> user-property <key> <value>. Commands: connect, publish, subscribe, unsubscribe, disconnect, will. Names as in the specification, lower case with \'-\' (e.g. -D publish content-type text/plain). Implies -V 5' -r
complete -c mq-rr -l cafile -d 'Trust the CA certificates of this PEM file (turns TLS on)' -r -F
complete -c mq-rr -l capath -d 'Trust the CA certificates of every PEM file in this directory (turns TLS on)' -r -F
complete -c mq-rr -l cert -d 'Client certificate (PEM), for brokers that require one; needs --key' -r -F
complete -c mq-rr -l key -d 'Client private key (PEM, not encrypted); needs --cert' -r -F
complete -c mq-rr -l keyform -d 'Key type: pem (engine is refused: rustls has no OpenSSL engines)' -r
complete -c mq-rr -l ciphers -d 'TLS 1.2 cipher suites as an OpenSSL cipher list, mapped onto rustls\' suites' -r
complete -c mq-rr -l tls-version -d 'Lowest TLS version to use: tlsv1.3 or tlsv1.2 (tlsv1.1 offers 1.2 and 1.3: rustls has no 1.1)' -r
complete -c mq-rr -l tls-alpn -d 'Application protocol to ask for (ALPN), e.g. x-amzn-mqtt-ca' -r
complete -c mq-rr -l tls-engine -d 'OpenSSL engine (refused: rustls has no OpenSSL engines)' -r
complete -c mq-rr -l tls-engine-kpass-sha1 -d 'SHA1 of the engine key password (refused: rustls has no OpenSSL engines)' -r
complete -c mq-rr -l psk -d 'Pre-shared key in hexadecimal (refused: rustls has no TLS-PSK)' -r
complete -c mq-rr -l psk-identity -d 'Identity for TLS-PSK (refused: rustls has no TLS-PSK)' -r
complete -c mq-rr -s s -l stdin-file -d 'Send all of stdin as one payload'
complete -c mq-rr -s n -l null-message -d 'Send a zero-length payload'
complete -c mq-rr -s R -d 'Ignore retained responses'
complete -c mq-rr -s v -l verbose -d 'Print the topic before each payload: `topic payload`'
complete -c mq-rr -s N -d 'Do not add an end of line after each message'
complete -c mq-rr -l pretty -d 'Indent the JSON of %j and %J'
complete -c mq-rr -l nodelay -d 'Disable Nagle\'s algorithm (TCP_NODELAY) to send small packets sooner'
complete -c mq-rr -s c -l disable-clean-session -d 'Keep the session when disconnecting (clean session off); needs -i. With MQTT 5 the session never expires unless -x says otherwise'
complete -c mq-rr -l pw-prompt -d 'Ask for the password on the terminal'
complete -c mq-rr -l will-retain -d 'Retain the will'
complete -c mq-rr -s d -l debug -d 'Print every packet sent and received, in Mosquitto\'s format, on stdout'
complete -c mq-rr -l quiet -d 'Do not print error messages (usage errors are still printed)'
complete -c mq-rr -l tls-use-os-certs -d 'Trust the operating system\'s CA certificates (turns TLS on)'
complete -c mq-rr -l insecure -d 'Do not check that the server\'s certificate is for the host name connected to (the certificate chain is still verified). Testing only'
complete -c mq-rr -l help -d 'Print usage (long form only: -h is --host)'
complete -c mq-rr -l version -d 'Print the version (long form only: -V is --protocol-version)'
