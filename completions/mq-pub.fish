complete -c mq-pub -s t -l topic -d 'Topic to publish to' -r
complete -c mq-pub -s m -l message -d 'Send this text as the payload' -r
complete -c mq-pub -s f -l file -d 'Send the contents of a file as the payload, streamed from disk (up to the MQTT limit of about 256 MiB). On a terminal a progress bar shows on stderr' -r -F
complete -c mq-pub -s q -l qos -d 'QoS of the message: 0, 1 or 2' -r -f -a "0\t''
1\t''
2\t''"
complete -c mq-pub -l repeat -d 'With -m, -f, -s or -n: publish the message this many times' -r
complete -c mq-pub -l repeat-delay -d 'With --repeat: seconds (fractions allowed) between the delivery of one message and the start of the next' -r
complete -c mq-pub -s h -l host -d 'MQTT host to connect to [default: localhost]' -r -f -a "(__fish_print_hostnames)"
complete -c mq-pub -s p -l port -d 'Network port to connect to [default: 1883]' -r
complete -c mq-pub -s L -l url -d 'Broker, credentials and topic as one URL: mqtt://[username[:password]@]host[:port]/topic' -r
complete -c mq-pub -l unix -d 'Connect through a unix domain socket instead of TCP (replaces -h and -p)' -r -F
complete -c mq-pub -s A -d 'Bind the outgoing socket to this local host name or address' -r -f -a "(__fish_print_hostnames)"
complete -c mq-pub -l proxy -d 'Connect through a SOCKS5 proxy: socks5h://[username[:password]@]host[:port] (port 1080 by default; %25, %3A and %40 in the credentials stand for \'%\', \':\' and \'@\')' -r
complete -c mq-pub -s V -l protocol-version -d 'MQTT version: mqttv5 (or 5), mqttv311 (or 311), mqttv31 (or 31) [default: mqttv311; mq-rr: mqttv5]' -r -f -a "mqttv5\t''
mqttv311\t''
mqttv31\t''
5\t''
311\t''
31\t''"
complete -c mq-pub -s k -l keepalive -d 'Keep alive in seconds, 5 to 65535' -r
complete -c mq-pub -s i -l id -d 'Client identifier [default: empty, so the broker assigns one]' -r
complete -c mq-pub -s I -l id-prefix -d 'Client identifier made of this prefix and the process id (for brokers using clientid_prefixes)' -r
complete -c mq-pub -s x -d 'MQTT 5 session expiry interval in seconds: 0 to 4294967294, or -1, 4294967295 or ∞ for never [default: never with -c, else 0]' -r
complete -c mq-pub -s M -d 'Maximum number of QoS 1 and 2 messages in flight at once [default: 20]' -r
complete -c mq-pub -s u -l username -d 'User name' -r
complete -c mq-pub -s P -l pw -d 'Password. It is visible to other users in `ps`: prefer --pw-file, --pw-prompt or the MQ_PASSWORD environment variable (used when a user name is given and none of -P, --pw-file, --pw-prompt is)' -r
complete -c mq-pub -l pw-file -d 'Read the password from the first line of this file' -r -F
complete -c mq-pub -l will-topic -d 'Topic of the will, the message the broker publishes if this client goes away without disconnecting' -r
complete -c mq-pub -l will-payload -d 'Payload of the will [default: empty]' -r
complete -c mq-pub -l will-qos -d 'QoS of the will' -r -f -a "0\t''
1\t''
2\t''"
complete -c mq-pub -s D -l property -d 'MQTT 5 property: -D <command> <name> <value>, or -D <command> user-property <key> <value>. Commands: connect, publish, subscribe, unsubscribe, disconnect, will. Names as in the specification, lower case with \'-\' (e.g. -D publish content-type text/plain). Implies -V 5' -r
complete -c mq-pub -l cafile -d 'Trust the CA certificates of this PEM file (turns TLS on)' -r -F
complete -c mq-pub -l capath -d 'Trust the CA certificates of every PEM file in this directory (turns TLS on)' -r -F
complete -c mq-pub -l cert -d 'Client certificate (PEM), for brokers that require one; needs --key' -r -F
complete -c mq-pub -l key -d 'Client private key (PEM, not encrypted); needs --cert' -r -F
complete -c mq-pub -l keyform -d 'Key type: pem (engine is refused: rustls has no OpenSSL engines)' -r
complete -c mq-pub -l ciphers -d 'TLS 1.2 cipher suites as an OpenSSL cipher list, mapped onto rustls\' suites' -r
complete -c mq-pub -l tls-version -d 'Lowest TLS version to use: tlsv1.3 or tlsv1.2 (tlsv1.1 offers 1.2 and 1.3: rustls has no 1.1)' -r
complete -c mq-pub -l tls-alpn -d 'Application protocol to ask for (ALPN), e.g. x-amzn-mqtt-ca' -r
complete -c mq-pub -l tls-engine -d 'OpenSSL engine (refused: rustls has no OpenSSL engines)' -r
complete -c mq-pub -l tls-engine-kpass-sha1 -d 'SHA1 of the engine key password (refused: rustls has no OpenSSL engines)' -r
complete -c mq-pub -l psk -d 'Pre-shared key in hexadecimal (refused: rustls has no TLS-PSK)' -r
complete -c mq-pub -l psk-identity -d 'Identity for TLS-PSK (refused: rustls has no TLS-PSK)' -r
complete -c mq-pub -s s -l stdin-file -d 'Send all of stdin as one payload'
complete -c mq-pub -s n -l null-message -d 'Send a zero-length payload'
complete -c mq-pub -s l -l stdin-line -d 'Read stdin and send each line as a message (without its newline), staying connected'
complete -c mq-pub -s r -l retain -d 'Ask the broker to retain the message'
complete -c mq-pub -l nodelay -d 'Disable Nagle\'s algorithm (TCP_NODELAY) to send small packets sooner'
complete -c mq-pub -s c -l disable-clean-session -d 'Keep the session when disconnecting (clean session off); needs -i. With MQTT 5 the session never expires unless -x says otherwise'
complete -c mq-pub -l pw-prompt -d 'Ask for the password on the terminal'
complete -c mq-pub -l will-retain -d 'Retain the will'
complete -c mq-pub -s d -l debug -d 'Print every packet sent and received, in Mosquitto\'s format, on stdout'
complete -c mq-pub -l quiet -d 'Do not print error messages (usage errors are still printed)'
complete -c mq-pub -l tls-use-os-certs -d 'Trust the operating system\'s CA certificates (turns TLS on)'
complete -c mq-pub -l insecure -d 'Do not check that the server\'s certificate is for the host name connected to (the certificate chain is still verified). Testing only'
complete -c mq-pub -l help -d 'Print usage (long form only: -h is --host)'
complete -c mq-pub -l version -d 'Print the version (long form only: -V is --protocol-version)'
