# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_mq_global_optspecs
    string join \n h/help V/version
end

function __fish_mq_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_mq_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_mq_using_subcommand
    set -l cmd (__fish_mq_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c mq -n "__fish_mq_needs_command" -s h -l help -d 'Print help'
complete -c mq -n "__fish_mq_needs_command" -s V -l version -d 'Print version'
complete -c mq -n "__fish_mq_needs_command" -f -a "broker" -d 'Run the MQTT broker (mosquitto)'
complete -c mq -n "__fish_mq_needs_command" -f -a "pub" -d 'Publish a message (mosquitto_pub); the same options as mq-pub'
complete -c mq -n "__fish_mq_needs_command" -f -a "sub" -d 'Subscribe and print messages (mosquitto_sub); the same options as mq-sub'
complete -c mq -n "__fish_mq_needs_command" -f -a "rr" -d 'Send a request and wait for the response (mosquitto_rr); the same options as mq-rr'
complete -c mq -n "__fish_mq_needs_command" -f -a "passwd" -d 'Manage password files (mosquitto_passwd)'
complete -c mq -n "__fish_mq_needs_command" -f -a "bench" -d 'Load-test a broker: many connections, publishers or subscribers from one process'
complete -c mq -n "__fish_mq_needs_command" -f -a "db" -d 'Inspect, check, dump or compact the broker\'s persistent store, or import Mosquitto\'s into it'
complete -c mq -n "__fish_mq_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mq -n "__fish_mq_using_subcommand broker" -s c -l config-file -d 'Configuration file (mosquitto.conf syntax)' -r -F
complete -c mq -n "__fish_mq_using_subcommand broker" -s p -l port -d 'Listen on this port of the loopback interface (up to 10 times); ignored when the configuration file defines listeners' -r
complete -c mq -n "__fish_mq_using_subcommand broker" -s d -l daemon -d 'Run in the background (fork, detach from the terminal)'
complete -c mq -n "__fish_mq_using_subcommand broker" -s v -l verbose -d 'Log everything (all log types)'
complete -c mq -n "__fish_mq_using_subcommand broker" -l test-config -d 'Check the configuration, print what is wrong, and exit without starting'
complete -c mq -n "__fish_mq_using_subcommand broker" -s h -l help -d 'Print help'
complete -c mq -n "__fish_mq_using_subcommand broker" -s V -l version -d 'Print version'
complete -c mq -n "__fish_mq_using_subcommand pub" -s t -l topic -d 'Topic to publish to' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -s m -l message -d 'Send this text as the payload' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -s f -l file -d 'Send the contents of a file as the payload, streamed from disk (up to the MQTT limit of about 256 MiB). On a terminal a progress bar shows on stderr' -r -F
complete -c mq -n "__fish_mq_using_subcommand pub" -s q -l qos -d 'QoS of the message: 0, 1 or 2' -r -f -a "0\t''
1\t''
2\t''"
complete -c mq -n "__fish_mq_using_subcommand pub" -l repeat -d 'With -m, -f, -s or -n: publish the message this many times' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -l repeat-delay -d 'With --repeat: seconds (fractions allowed) between the delivery of one message and the start of the next' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -s h -l host -d 'MQTT host to connect to [default: localhost]' -r -f -a "(__fish_print_hostnames)"
complete -c mq -n "__fish_mq_using_subcommand pub" -s p -l port -d 'Network port to connect to [default: 1883]' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -s L -l url -d 'Broker, credentials and topic as one URL: mqtt://[username[:password]@]host[:port]/topic' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -l unix -d 'Connect through a unix domain socket instead of TCP (replaces -h and -p)' -r -F
complete -c mq -n "__fish_mq_using_subcommand pub" -s A -d 'Bind the outgoing socket to this local host name or address' -r -f -a "(__fish_print_hostnames)"
complete -c mq -n "__fish_mq_using_subcommand pub" -l proxy -d 'Connect through a SOCKS5 proxy: socks5h://[username[:password]@]host[:port] (port 1080 by default; %25, %3A and %40 in the credentials stand for \'%\', \':\' and \'@\')' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -s V -l protocol-version -d 'MQTT version: mqttv5 (or 5), mqttv311 (or 311), mqttv31 (or 31) [default: mqttv311; mq-rr: mqttv5]' -r -f -a "mqttv5\t''
mqttv311\t''
mqttv31\t''
5\t''
311\t''
31\t''"
complete -c mq -n "__fish_mq_using_subcommand pub" -s k -l keepalive -d 'Keep alive in seconds, 5 to 65535' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -s i -l id -d 'Client identifier [default: empty, so the broker assigns one]' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -s I -l id-prefix -d 'Client identifier made of this prefix and the process id (for brokers using clientid_prefixes)' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -s x -d 'MQTT 5 session expiry interval in seconds: 0 to 4294967294, or -1, 4294967295 or ∞ for never [default: never with -c, else 0]' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -s M -d 'Maximum number of QoS 1 and 2 messages in flight at once [default: 20]' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -s u -l username -d 'User name' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -s P -l pw -d 'Password. It is visible to other users in `ps`: prefer --pw-file, --pw-prompt or the MQ_PASSWORD environment variable (used when a user name is given and none of -P, --pw-file, --pw-prompt is)' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -l pw-file -d 'Read the password from the first line of this file' -r -F
complete -c mq -n "__fish_mq_using_subcommand pub" -l will-topic -d 'Topic of the will, the message the broker publishes if this client goes away without disconnecting' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -l will-payload -d 'Payload of the will [default: empty]' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -l will-qos -d 'QoS of the will' -r -f -a "0\t''
1\t''
2\t''"
complete -c mq -n "__fish_mq_using_subcommand pub" -s D -l property -d 'MQTT 5 property: -D <command> <name> <value>, or -D <command> user-property <key> <value>. Commands: connect, publish, subscribe, unsubscribe, disconnect, will. Names as in the specification, lower case with \'-\' (e.g. -D publish content-type text/plain). Implies -V 5' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -l cafile -d 'Trust the CA certificates of this PEM file (turns TLS on)' -r -F
complete -c mq -n "__fish_mq_using_subcommand pub" -l capath -d 'Trust the CA certificates of every PEM file in this directory (turns TLS on)' -r -F
complete -c mq -n "__fish_mq_using_subcommand pub" -l cert -d 'Client certificate (PEM), for brokers that require one; needs --key' -r -F
complete -c mq -n "__fish_mq_using_subcommand pub" -l key -d 'Client private key (PEM, not encrypted); needs --cert' -r -F
complete -c mq -n "__fish_mq_using_subcommand pub" -l keyform -d 'Key type: pem (engine is refused: rustls has no OpenSSL engines)' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -l ciphers -d 'TLS 1.2 cipher suites as an OpenSSL cipher list, mapped onto rustls\' suites' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -l tls-version -d 'Lowest TLS version to use: tlsv1.3 or tlsv1.2 (tlsv1.1 offers 1.2 and 1.3: rustls has no 1.1)' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -l tls-alpn -d 'Application protocol to ask for (ALPN), e.g. x-amzn-mqtt-ca' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -l tls-engine -d 'OpenSSL engine (refused: rustls has no OpenSSL engines)' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -l tls-engine-kpass-sha1 -d 'SHA1 of the engine key password (refused: rustls has no OpenSSL engines)' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -l psk -d 'Pre-shared key in hexadecimal (refused: rustls has no TLS-PSK)' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -l psk-identity -d 'Identity for TLS-PSK (refused: rustls has no TLS-PSK)' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -s s -l stdin-file -d 'Send all of stdin as one payload'
complete -c mq -n "__fish_mq_using_subcommand pub" -s n -l null-message -d 'Send a zero-length payload'
complete -c mq -n "__fish_mq_using_subcommand pub" -s l -l stdin-line -d 'Read stdin and send each line as a message (without its newline), staying connected'
complete -c mq -n "__fish_mq_using_subcommand pub" -s r -l retain -d 'Ask the broker to retain the message'
complete -c mq -n "__fish_mq_using_subcommand pub" -l nodelay -d 'Disable Nagle\'s algorithm (TCP_NODELAY) to send small packets sooner'
complete -c mq -n "__fish_mq_using_subcommand pub" -s c -l disable-clean-session -d 'Keep the session when disconnecting (clean session off); needs -i. With MQTT 5 the session never expires unless -x says otherwise'
complete -c mq -n "__fish_mq_using_subcommand pub" -l pw-prompt -d 'Ask for the password on the terminal'
complete -c mq -n "__fish_mq_using_subcommand pub" -l will-retain -d 'Retain the will'
complete -c mq -n "__fish_mq_using_subcommand pub" -s d -l debug -d 'Print every packet sent and received, in Mosquitto\'s format, on stdout'
complete -c mq -n "__fish_mq_using_subcommand pub" -l quiet -d 'Do not print error messages (usage errors are still printed)'
complete -c mq -n "__fish_mq_using_subcommand pub" -l tls-use-os-certs -d 'Trust the operating system\'s CA certificates (turns TLS on)'
complete -c mq -n "__fish_mq_using_subcommand pub" -l insecure -d 'Do not check that the server\'s certificate is for the host name connected to (the certificate chain is still verified). Testing only'
complete -c mq -n "__fish_mq_using_subcommand pub" -l help -d 'Print usage (long form only: -h is --host)'
complete -c mq -n "__fish_mq_using_subcommand pub" -l version -d 'Print the version (long form only: -V is --protocol-version)'
complete -c mq -n "__fish_mq_using_subcommand sub" -s t -l topic -d 'Topic filter to subscribe to; repeat for more' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -s q -l qos -d 'QoS to subscribe with: 0, 1 or 2' -r -f -a "0\t''
1\t''
2\t''"
complete -c mq -n "__fish_mq_using_subcommand sub" -s U -l unsubscribe -d 'Unsubscribe from this filter after subscribing (to edit a persistent session); repeatable' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -s T -l filter-out -d 'Do not print messages whose topic matches this filter; repeatable' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -s C -d 'Exit after this many messages' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -s W -d 'Exit after this many seconds, with status 27 and "Timed out"' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -l random-filter -d 'Print only about this percentage of the messages, 0.1 to 100' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -s F -d 'Print each message with this format instead: %t topic, %p payload, %x/%X payload in hex, %l length, %q QoS, %r retain, %m message id, %j/%J JSON, %I/%U time, MQTT 5 properties %A %C %D %E %F %P %R %S, @<c> strftime codes, @N nanoseconds, \\n \\t \\e ... escapes; flags, width and precision as printf. Exactly mosquitto_sub\'s format language' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -l exec -d 'Run this shell command (sh -c) for each message instead of printing it. The payload is on the command\'s stdin; MQ_TOPIC, MQ_QOS, MQ_RETAIN, MQ_MID, MQ_DUP, MQ_PAYLOAD_LENGTH and, for MQTT 5, MQ_CONTENT_TYPE, MQ_RESPONSE_TOPIC, MQ_CORRELATION_DATA (hex), MQ_PAYLOAD_FORMAT, MQ_MESSAGE_EXPIRY, MQ_SUBSCRIPTION_IDS, MQ_USER_PROPERTIES (JSON array of [key, value]) and MQ_USER_PROPERTY_<KEY> are in its environment. QoS 1 and 2 messages are acknowledged only when their command has finished, so nothing is lost if the subscriber dies first (with -c the broker sends it again)' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -l exec-jobs -d 'Run up to this many commands at once (messages start in order but may finish out of order)' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -s h -l host -d 'MQTT host to connect to [default: localhost]' -r -f -a "(__fish_print_hostnames)"
complete -c mq -n "__fish_mq_using_subcommand sub" -s p -l port -d 'Network port to connect to [default: 1883]' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -s L -l url -d 'Broker, credentials and topic as one URL: mqtt://[username[:password]@]host[:port]/topic' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -l unix -d 'Connect through a unix domain socket instead of TCP (replaces -h and -p)' -r -F
complete -c mq -n "__fish_mq_using_subcommand sub" -s A -d 'Bind the outgoing socket to this local host name or address' -r -f -a "(__fish_print_hostnames)"
complete -c mq -n "__fish_mq_using_subcommand sub" -l proxy -d 'Connect through a SOCKS5 proxy: socks5h://[username[:password]@]host[:port] (port 1080 by default; %25, %3A and %40 in the credentials stand for \'%\', \':\' and \'@\')' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -s V -l protocol-version -d 'MQTT version: mqttv5 (or 5), mqttv311 (or 311), mqttv31 (or 31) [default: mqttv311; mq-rr: mqttv5]' -r -f -a "mqttv5\t''
mqttv311\t''
mqttv31\t''
5\t''
311\t''
31\t''"
complete -c mq -n "__fish_mq_using_subcommand sub" -s k -l keepalive -d 'Keep alive in seconds, 5 to 65535' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -s i -l id -d 'Client identifier [default: empty, so the broker assigns one]' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -s I -l id-prefix -d 'Client identifier made of this prefix and the process id (for brokers using clientid_prefixes)' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -s x -d 'MQTT 5 session expiry interval in seconds: 0 to 4294967294, or -1, 4294967295 or ∞ for never [default: never with -c, else 0]' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -s M -d 'Maximum number of QoS 1 and 2 messages in flight at once [default: 20]' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -s u -l username -d 'User name' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -s P -l pw -d 'Password. It is visible to other users in `ps`: prefer --pw-file, --pw-prompt or the MQ_PASSWORD environment variable (used when a user name is given and none of -P, --pw-file, --pw-prompt is)' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -l pw-file -d 'Read the password from the first line of this file' -r -F
complete -c mq -n "__fish_mq_using_subcommand sub" -l will-topic -d 'Topic of the will, the message the broker publishes if this client goes away without disconnecting' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -l will-payload -d 'Payload of the will [default: empty]' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -l will-qos -d 'QoS of the will' -r -f -a "0\t''
1\t''
2\t''"
complete -c mq -n "__fish_mq_using_subcommand sub" -s D -l property -d 'MQTT 5 property: -D <command> <name> <value>, or -D <command> user-property <key> <value>. Commands: connect, publish, subscribe, unsubscribe, disconnect, will. Names as in the specification, lower case with \'-\' (e.g. -D publish content-type text/plain). Implies -V 5' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -l cafile -d 'Trust the CA certificates of this PEM file (turns TLS on)' -r -F
complete -c mq -n "__fish_mq_using_subcommand sub" -l capath -d 'Trust the CA certificates of every PEM file in this directory (turns TLS on)' -r -F
complete -c mq -n "__fish_mq_using_subcommand sub" -l cert -d 'Client certificate (PEM), for brokers that require one; needs --key' -r -F
complete -c mq -n "__fish_mq_using_subcommand sub" -l key -d 'Client private key (PEM, not encrypted); needs --cert' -r -F
complete -c mq -n "__fish_mq_using_subcommand sub" -l keyform -d 'Key type: pem (engine is refused: rustls has no OpenSSL engines)' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -l ciphers -d 'TLS 1.2 cipher suites as an OpenSSL cipher list, mapped onto rustls\' suites' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -l tls-version -d 'Lowest TLS version to use: tlsv1.3 or tlsv1.2 (tlsv1.1 offers 1.2 and 1.3: rustls has no 1.1)' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -l tls-alpn -d 'Application protocol to ask for (ALPN), e.g. x-amzn-mqtt-ca' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -l tls-engine -d 'OpenSSL engine (refused: rustls has no OpenSSL engines)' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -l tls-engine-kpass-sha1 -d 'SHA1 of the engine key password (refused: rustls has no OpenSSL engines)' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -l psk -d 'Pre-shared key in hexadecimal (refused: rustls has no TLS-PSK)' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -l psk-identity -d 'Identity for TLS-PSK (refused: rustls has no TLS-PSK)' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -s E -d 'Exit as soon as the subscriptions are acknowledged (e.g. to create a persistent session with -c)'
complete -c mq -n "__fish_mq_using_subcommand sub" -s R -d 'Do not print retained (stale) messages; with MQTT 5 the broker is asked not to send them'
complete -c mq -n "__fish_mq_using_subcommand sub" -l retained-only -d 'Print only retained messages and exit at the first message that is not retained'
complete -c mq -n "__fish_mq_using_subcommand sub" -l remove-retained -d 'Clear each retained message received (publish an empty retained message to its topic); -T filters still apply'
complete -c mq -n "__fish_mq_using_subcommand sub" -l retain-as-published -d 'MQTT 5: keep the retain flag of messages as published'
complete -c mq -n "__fish_mq_using_subcommand sub" -s v -l verbose -d 'Print the topic before each payload: `topic payload`'
complete -c mq -n "__fish_mq_using_subcommand sub" -s N -d 'Do not add an end of line after each message'
complete -c mq -n "__fish_mq_using_subcommand sub" -l pretty -d 'Indent the JSON of %j and %J'
complete -c mq -n "__fish_mq_using_subcommand sub" -l exec-stop-on-error -d 'Stop at the first command that fails (exit status not 0): its message is not acknowledged, so with -c the broker delivers it again next time; mq-sub exits with status 1. Without this option a failure is reported on stderr and the message counts as handled'
complete -c mq -n "__fish_mq_using_subcommand sub" -l nodelay -d 'Disable Nagle\'s algorithm (TCP_NODELAY) to send small packets sooner'
complete -c mq -n "__fish_mq_using_subcommand sub" -s c -l disable-clean-session -d 'Keep the session when disconnecting (clean session off); needs -i. With MQTT 5 the session never expires unless -x says otherwise'
complete -c mq -n "__fish_mq_using_subcommand sub" -l pw-prompt -d 'Ask for the password on the terminal'
complete -c mq -n "__fish_mq_using_subcommand sub" -l will-retain -d 'Retain the will'
complete -c mq -n "__fish_mq_using_subcommand sub" -s d -l debug -d 'Print every packet sent and received, in Mosquitto\'s format, on stdout'
complete -c mq -n "__fish_mq_using_subcommand sub" -l quiet -d 'Do not print error messages (usage errors are still printed)'
complete -c mq -n "__fish_mq_using_subcommand sub" -l tls-use-os-certs -d 'Trust the operating system\'s CA certificates (turns TLS on)'
complete -c mq -n "__fish_mq_using_subcommand sub" -l insecure -d 'Do not check that the server\'s certificate is for the host name connected to (the certificate chain is still verified). Testing only'
complete -c mq -n "__fish_mq_using_subcommand sub" -l help -d 'Print usage (long form only: -h is --host)'
complete -c mq -n "__fish_mq_using_subcommand sub" -l version -d 'Print the version (long form only: -V is --protocol-version)'
complete -c mq -n "__fish_mq_using_subcommand rr" -s t -l topic -d 'Topic to publish the request to' -r
complete -c mq -n "__fish_mq_using_subcommand rr" -s e -d 'Topic the response is expected on (sent as the request\'s Response Topic property)' -r
complete -c mq -n "__fish_mq_using_subcommand rr" -s m -l message -d 'Send this text as the payload' -r
complete -c mq -n "__fish_mq_using_subcommand rr" -s f -l file -d 'Send the contents of a file as the payload, streamed from disk (up to the MQTT limit of about 256 MiB). On a terminal a progress bar shows on stderr' -r -F
complete -c mq -n "__fish_mq_using_subcommand rr" -s q -l qos -d 'QoS for the subscription and the request: 0, 1 or 2' -r -f -a "0\t''
1\t''
2\t''"
complete -c mq -n "__fish_mq_using_subcommand rr" -s W -d 'Give up after this many seconds, with status 27 and "Timed out"' -r
complete -c mq -n "__fish_mq_using_subcommand rr" -s F -d 'Print each message with this format instead: %t topic, %p payload, %x/%X payload in hex, %l length, %q QoS, %r retain, %m message id, %j/%J JSON, %I/%U time, MQTT 5 properties %A %C %D %E %F %P %R %S, @<c> strftime codes, @N nanoseconds, \\n \\t \\e ... escapes; flags, width and precision as printf. Exactly mosquitto_sub\'s format language' -r
complete -c mq -n "__fish_mq_using_subcommand rr" -s h -l host -d 'MQTT host to connect to [default: localhost]' -r -f -a "(__fish_print_hostnames)"
complete -c mq -n "__fish_mq_using_subcommand rr" -s p -l port -d 'Network port to connect to [default: 1883]' -r
complete -c mq -n "__fish_mq_using_subcommand rr" -s L -l url -d 'Broker, credentials and topic as one URL: mqtt://[username[:password]@]host[:port]/topic' -r
complete -c mq -n "__fish_mq_using_subcommand rr" -l unix -d 'Connect through a unix domain socket instead of TCP (replaces -h and -p)' -r -F
complete -c mq -n "__fish_mq_using_subcommand rr" -s A -d 'Bind the outgoing socket to this local host name or address' -r -f -a "(__fish_print_hostnames)"
complete -c mq -n "__fish_mq_using_subcommand rr" -l proxy -d 'Connect through a SOCKS5 proxy: socks5h://[username[:password]@]host[:port] (port 1080 by default; %25, %3A and %40 in the credentials stand for \'%\', \':\' and \'@\')' -r
complete -c mq -n "__fish_mq_using_subcommand rr" -s V -l protocol-version -d 'MQTT version: mqttv5 (or 5), mqttv311 (or 311), mqttv31 (or 31) [default: mqttv311; mq-rr: mqttv5]' -r -f -a "mqttv5\t''
mqttv311\t''
mqttv31\t''
5\t''
311\t''
31\t''"
complete -c mq -n "__fish_mq_using_subcommand rr" -s k -l keepalive -d 'Keep alive in seconds, 5 to 65535' -r
complete -c mq -n "__fish_mq_using_subcommand rr" -s i -l id -d 'Client identifier [default: empty, so the broker assigns one]' -r
complete -c mq -n "__fish_mq_using_subcommand rr" -s I -l id-prefix -d 'Client identifier made of this prefix and the process id (for brokers using clientid_prefixes)' -r
complete -c mq -n "__fish_mq_using_subcommand rr" -s x -d 'MQTT 5 session expiry interval in seconds: 0 to 4294967294, or -1, 4294967295 or ∞ for never [default: never with -c, else 0]' -r
complete -c mq -n "__fish_mq_using_subcommand rr" -s M -d 'Maximum number of QoS 1 and 2 messages in flight at once [default: 20]' -r
complete -c mq -n "__fish_mq_using_subcommand rr" -s u -l username -d 'User name' -r
complete -c mq -n "__fish_mq_using_subcommand rr" -s P -l pw -d 'Password. It is visible to other users in `ps`: prefer --pw-file, --pw-prompt or the MQ_PASSWORD environment variable (used when a user name is given and none of -P, --pw-file, --pw-prompt is)' -r
complete -c mq -n "__fish_mq_using_subcommand rr" -l pw-file -d 'Read the password from the first line of this file' -r -F
complete -c mq -n "__fish_mq_using_subcommand rr" -l will-topic -d 'Topic of the will, the message the broker publishes if this client goes away without disconnecting' -r
complete -c mq -n "__fish_mq_using_subcommand rr" -l will-payload -d 'Payload of the will [default: empty]' -r
complete -c mq -n "__fish_mq_using_subcommand rr" -l will-qos -d 'QoS of the will' -r -f -a "0\t''
1\t''
2\t''"
complete -c mq -n "__fish_mq_using_subcommand rr" -s D -l property -d 'MQTT 5 property: -D <command> <name> <value>, or -D <command> user-property <key> <value>. Commands: connect, publish, subscribe, unsubscribe, disconnect, will. Names as in the specification, lower case with \'-\' (e.g. -D publish content-type text/plain). Implies -V 5' -r
complete -c mq -n "__fish_mq_using_subcommand rr" -l cafile -d 'Trust the CA certificates of this PEM file (turns TLS on)' -r -F
complete -c mq -n "__fish_mq_using_subcommand rr" -l capath -d 'Trust the CA certificates of every PEM file in this directory (turns TLS on)' -r -F
complete -c mq -n "__fish_mq_using_subcommand rr" -l cert -d 'Client certificate (PEM), for brokers that require one; needs --key' -r -F
complete -c mq -n "__fish_mq_using_subcommand rr" -l key -d 'Client private key (PEM, not encrypted); needs --cert' -r -F
complete -c mq -n "__fish_mq_using_subcommand rr" -l keyform -d 'Key type: pem (engine is refused: rustls has no OpenSSL engines)' -r
complete -c mq -n "__fish_mq_using_subcommand rr" -l ciphers -d 'TLS 1.2 cipher suites as an OpenSSL cipher list, mapped onto rustls\' suites' -r
complete -c mq -n "__fish_mq_using_subcommand rr" -l tls-version -d 'Lowest TLS version to use: tlsv1.3 or tlsv1.2 (tlsv1.1 offers 1.2 and 1.3: rustls has no 1.1)' -r
complete -c mq -n "__fish_mq_using_subcommand rr" -l tls-alpn -d 'Application protocol to ask for (ALPN), e.g. x-amzn-mqtt-ca' -r
complete -c mq -n "__fish_mq_using_subcommand rr" -l tls-engine -d 'OpenSSL engine (refused: rustls has no OpenSSL engines)' -r
complete -c mq -n "__fish_mq_using_subcommand rr" -l tls-engine-kpass-sha1 -d 'SHA1 of the engine key password (refused: rustls has no OpenSSL engines)' -r
complete -c mq -n "__fish_mq_using_subcommand rr" -l psk -d 'Pre-shared key in hexadecimal (refused: rustls has no TLS-PSK)' -r
complete -c mq -n "__fish_mq_using_subcommand rr" -l psk-identity -d 'Identity for TLS-PSK (refused: rustls has no TLS-PSK)' -r
complete -c mq -n "__fish_mq_using_subcommand rr" -s s -l stdin-file -d 'Send all of stdin as one payload'
complete -c mq -n "__fish_mq_using_subcommand rr" -s n -l null-message -d 'Send a zero-length payload'
complete -c mq -n "__fish_mq_using_subcommand rr" -s R -d 'Ignore retained responses'
complete -c mq -n "__fish_mq_using_subcommand rr" -s v -l verbose -d 'Print the topic before each payload: `topic payload`'
complete -c mq -n "__fish_mq_using_subcommand rr" -s N -d 'Do not add an end of line after each message'
complete -c mq -n "__fish_mq_using_subcommand rr" -l pretty -d 'Indent the JSON of %j and %J'
complete -c mq -n "__fish_mq_using_subcommand rr" -l nodelay -d 'Disable Nagle\'s algorithm (TCP_NODELAY) to send small packets sooner'
complete -c mq -n "__fish_mq_using_subcommand rr" -s c -l disable-clean-session -d 'Keep the session when disconnecting (clean session off); needs -i. With MQTT 5 the session never expires unless -x says otherwise'
complete -c mq -n "__fish_mq_using_subcommand rr" -l pw-prompt -d 'Ask for the password on the terminal'
complete -c mq -n "__fish_mq_using_subcommand rr" -l will-retain -d 'Retain the will'
complete -c mq -n "__fish_mq_using_subcommand rr" -s d -l debug -d 'Print every packet sent and received, in Mosquitto\'s format, on stdout'
complete -c mq -n "__fish_mq_using_subcommand rr" -l quiet -d 'Do not print error messages (usage errors are still printed)'
complete -c mq -n "__fish_mq_using_subcommand rr" -l tls-use-os-certs -d 'Trust the operating system\'s CA certificates (turns TLS on)'
complete -c mq -n "__fish_mq_using_subcommand rr" -l insecure -d 'Do not check that the server\'s certificate is for the host name connected to (the certificate chain is still verified). Testing only'
complete -c mq -n "__fish_mq_using_subcommand rr" -l help -d 'Print usage (long form only: -h is --host)'
complete -c mq -n "__fish_mq_using_subcommand rr" -l version -d 'Print the version (long form only: -V is --protocol-version)'
complete -c mq -n "__fish_mq_using_subcommand passwd" -s H -d 'Hash algorithm: sha512-pbkdf2 (default, `$7$`), sha512 (`$6$`, Mosquitto 1.6 and earlier) or argon2id (Mosquitto 2.1 with argon2 only)' -r -f -a "sha512-pbkdf2\t''
sha512\t''
argon2id\t''"
complete -c mq -n "__fish_mq_using_subcommand passwd" -s I -d 'PBKDF2 iterations for sha512-pbkdf2 (default 10000; Mosquitto uses 101)' -r
complete -c mq -n "__fish_mq_using_subcommand passwd" -s b -d 'Batch mode: take the password from the command line (visible to other local users in `ps` and kept in shell history)'
complete -c mq -n "__fish_mq_using_subcommand passwd" -s c -d 'Create a new password file, replacing an existing one'
complete -c mq -n "__fish_mq_using_subcommand passwd" -s D -d 'Delete the user rather than adding or updating its password'
complete -c mq -n "__fish_mq_using_subcommand passwd" -s U -d 'Upgrade a plain-text password file (user:password lines) to hashed passwords'
complete -c mq -n "__fish_mq_using_subcommand passwd" -s V -l version -d 'Print version'
complete -c mq -n "__fish_mq_using_subcommand bench; and not __fish_seen_subcommand_from conn pub sub help" -l help -d 'Print help'
complete -c mq -n "__fish_mq_using_subcommand bench; and not __fish_seen_subcommand_from conn pub sub help" -f -a "conn" -d 'Open connections and hold them (connect rate, idle cost)'
complete -c mq -n "__fish_mq_using_subcommand bench; and not __fish_seen_subcommand_from conn pub sub help" -f -a "pub" -d 'Publish from many clients'
complete -c mq -n "__fish_mq_using_subcommand bench; and not __fish_seen_subcommand_from conn pub sub help" -f -a "sub" -d 'Subscribe from many clients and measure throughput, latency, loss and order'
complete -c mq -n "__fish_mq_using_subcommand bench; and not __fish_seen_subcommand_from conn pub sub help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from conn" -s h -l host -d 'Broker host (default localhost, or the -L URL\'s)' -r -f -a "(__fish_print_hostnames)"
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from conn" -s p -l port -d 'Broker port (default 1883, 8883 with TLS, or the -L URL\'s). Port 8883 alone turns TLS on, trusting the system\'s CAs, as in mq-pub' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from conn" -s L -l url -d 'The broker as a URL, as mq-pub\'s -L without the topic: mqtt://, mqtts:// (TLS), ws:// (WebSockets), wss:// (WebSockets over TLS), then [user[:password]@]host[:port]' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from conn" -l cafile -d 'Trust the CA certificates of this PEM file (turns TLS on)' -r -F
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from conn" -l capath -d 'Trust the CA certificates of every PEM file in this directory (turns TLS on)' -r -F
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from conn" -l cert -d 'Client certificate (PEM), for brokers that require one; needs --key' -r -F
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from conn" -l key -d 'Client private key (PEM, not encrypted); needs --cert' -r -F
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from conn" -l keyform -d 'Key type: pem (engine is refused: rustls has no OpenSSL engines)' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from conn" -l ciphers -d 'TLS 1.2 cipher suites as an OpenSSL cipher list, mapped onto rustls\' suites' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from conn" -l tls-version -d 'Lowest TLS version to use: tlsv1.3 or tlsv1.2 (tlsv1.1 offers 1.2 and 1.3: rustls has no 1.1)' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from conn" -l tls-alpn -d 'Application protocol to ask for (ALPN), e.g. x-amzn-mqtt-ca' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from conn" -l tls-engine -d 'OpenSSL engine (refused: rustls has no OpenSSL engines)' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from conn" -l tls-engine-kpass-sha1 -d 'SHA1 of the engine key password (refused: rustls has no OpenSSL engines)' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from conn" -l psk -d 'Pre-shared key in hexadecimal (refused: rustls has no TLS-PSK)' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from conn" -l psk-identity -d 'Identity for TLS-PSK (refused: rustls has no TLS-PSK)' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from conn" -s V -l protocol-version -d 'MQTT version: mqttv31, mqttv311 or mqttv5 (31, 311, 5)' -r -f -a "mqttv31\t''
mqttv311\t''
mqttv5\t''"
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from conn" -s c -l count -d 'Number of clients' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from conn" -s R -l connect-rate -d 'New connections per second (0: as fast as possible)' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from conn" -l connect-concurrency -d 'Most connection handshakes (TCP connect to CONNACK) in progress at once (0: no limit). A limit keeps a burst within the broker\'s listen backlog, so a connect storm measures the broker\'s handshakes rather than SYN retransmission back-off' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from conn" -l bind -d 'Source address for the connections (repeat it for several: clients take them in turn). Each source address has its own ephemeral ports, so several (127.0.0.1, 127.0.0.2, ...) reach beyond the ~28,000 connections one address can open to one broker port' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from conn" -s i -l id-prefix -d 'Client id prefix; ids are <prefix>-<process id>-<client number>' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from conn" -s k -l keepalive -d 'Keep alive in seconds' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from conn" -s u -l username -d 'User name; %i is the client number, %c the client id (`-u user%i` logs each client in as its own user)' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from conn" -s P -l pw -d 'Password; %i is the client number, %c the client id' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from conn" -s D -l duration -d 'Run time in seconds, from the moment every client is connected' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from conn" -l json-file -d 'Append the JSON summary to this file as well' -r -F
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from conn" -s t -l topic -d 'Each client also subscribes to this filter (QoS 0) once connected; %i is the client number, %c the client id (`-t \'idle/%i\'`: a topic of its own, the cost of a connection with a subscription)' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from conn" -l subscriptions -d 'Subscriptions per client with -t: 1 subscribes to the filter itself, more to <filter>/0 ... <filter>/<N-1>' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from conn" -l tls-use-os-certs -d 'Trust the operating system\'s CA certificates (turns TLS on)'
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from conn" -l insecure -d 'Do not check that the server\'s certificate is for the host name connected to (the certificate chain is still verified). Testing only'
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from conn" -l persistent -d 'Persistent sessions: clean session off (MQTT 5: clean start off, session expiry never), so a broker with persistence stores what it queues and acknowledges for them'
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from conn" -l json -d 'Print one JSON line as the summary'
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from conn" -l help -d 'Print help'
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -s h -l host -d 'Broker host (default localhost, or the -L URL\'s)' -r -f -a "(__fish_print_hostnames)"
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -s p -l port -d 'Broker port (default 1883, 8883 with TLS, or the -L URL\'s). Port 8883 alone turns TLS on, trusting the system\'s CAs, as in mq-pub' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -s L -l url -d 'The broker as a URL, as mq-pub\'s -L without the topic: mqtt://, mqtts:// (TLS), ws:// (WebSockets), wss:// (WebSockets over TLS), then [user[:password]@]host[:port]' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -l cafile -d 'Trust the CA certificates of this PEM file (turns TLS on)' -r -F
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -l capath -d 'Trust the CA certificates of every PEM file in this directory (turns TLS on)' -r -F
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -l cert -d 'Client certificate (PEM), for brokers that require one; needs --key' -r -F
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -l key -d 'Client private key (PEM, not encrypted); needs --cert' -r -F
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -l keyform -d 'Key type: pem (engine is refused: rustls has no OpenSSL engines)' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -l ciphers -d 'TLS 1.2 cipher suites as an OpenSSL cipher list, mapped onto rustls\' suites' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -l tls-version -d 'Lowest TLS version to use: tlsv1.3 or tlsv1.2 (tlsv1.1 offers 1.2 and 1.3: rustls has no 1.1)' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -l tls-alpn -d 'Application protocol to ask for (ALPN), e.g. x-amzn-mqtt-ca' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -l tls-engine -d 'OpenSSL engine (refused: rustls has no OpenSSL engines)' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -l tls-engine-kpass-sha1 -d 'SHA1 of the engine key password (refused: rustls has no OpenSSL engines)' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -l psk -d 'Pre-shared key in hexadecimal (refused: rustls has no TLS-PSK)' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -l psk-identity -d 'Identity for TLS-PSK (refused: rustls has no TLS-PSK)' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -s V -l protocol-version -d 'MQTT version: mqttv31, mqttv311 or mqttv5 (31, 311, 5)' -r -f -a "mqttv31\t''
mqttv311\t''
mqttv5\t''"
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -s c -l count -d 'Number of clients' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -s R -l connect-rate -d 'New connections per second (0: as fast as possible)' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -l connect-concurrency -d 'Most connection handshakes (TCP connect to CONNACK) in progress at once (0: no limit). A limit keeps a burst within the broker\'s listen backlog, so a connect storm measures the broker\'s handshakes rather than SYN retransmission back-off' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -l bind -d 'Source address for the connections (repeat it for several: clients take them in turn). Each source address has its own ephemeral ports, so several (127.0.0.1, 127.0.0.2, ...) reach beyond the ~28,000 connections one address can open to one broker port' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -s i -l id-prefix -d 'Client id prefix; ids are <prefix>-<process id>-<client number>' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -s k -l keepalive -d 'Keep alive in seconds' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -s u -l username -d 'User name; %i is the client number, %c the client id (`-u user%i` logs each client in as its own user)' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -s P -l pw -d 'Password; %i is the client number, %c the client id' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -s D -l duration -d 'Run time in seconds, from the moment every client is connected' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -l json-file -d 'Append the JSON summary to this file as well' -r -F
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -s t -l topic -d 'Topic; %i is the client number, %c the client id' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -s q -l qos -d 'QoS' -r -f -a "0\t''
1\t''
2\t''"
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -s s -l size -d 'Payload size in bytes (at least 20: the payload carries a send time and sequence number)' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -s r -l rate -d 'Messages per second per client (0: as fast as possible); paced clients start spread evenly over one interval' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -s n -l messages -d 'Stop each client after this many messages (0: no limit; the duration still applies)' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -l inflight -d 'QoS 1/2 messages in flight per client (the broker\'s Receive Maximum caps it in MQTT 5)' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -l batch -d 'Bytes of messages encoded before they are written to the socket (writes of about this size)' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -l tls-use-os-certs -d 'Trust the operating system\'s CA certificates (turns TLS on)'
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -l insecure -d 'Do not check that the server\'s certificate is for the host name connected to (the certificate chain is still verified). Testing only'
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -l persistent -d 'Persistent sessions: clean session off (MQTT 5: clean start off, session expiry never), so a broker with persistence stores what it queues and acknowledges for them'
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -l json -d 'Print one JSON line as the summary'
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -l retain -d 'Publish retained'
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from pub" -l help -d 'Print help'
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from sub" -s h -l host -d 'Broker host (default localhost, or the -L URL\'s)' -r -f -a "(__fish_print_hostnames)"
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from sub" -s p -l port -d 'Broker port (default 1883, 8883 with TLS, or the -L URL\'s). Port 8883 alone turns TLS on, trusting the system\'s CAs, as in mq-pub' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from sub" -s L -l url -d 'The broker as a URL, as mq-pub\'s -L without the topic: mqtt://, mqtts:// (TLS), ws:// (WebSockets), wss:// (WebSockets over TLS), then [user[:password]@]host[:port]' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from sub" -l cafile -d 'Trust the CA certificates of this PEM file (turns TLS on)' -r -F
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from sub" -l capath -d 'Trust the CA certificates of every PEM file in this directory (turns TLS on)' -r -F
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from sub" -l cert -d 'Client certificate (PEM), for brokers that require one; needs --key' -r -F
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from sub" -l key -d 'Client private key (PEM, not encrypted); needs --cert' -r -F
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from sub" -l keyform -d 'Key type: pem (engine is refused: rustls has no OpenSSL engines)' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from sub" -l ciphers -d 'TLS 1.2 cipher suites as an OpenSSL cipher list, mapped onto rustls\' suites' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from sub" -l tls-version -d 'Lowest TLS version to use: tlsv1.3 or tlsv1.2 (tlsv1.1 offers 1.2 and 1.3: rustls has no 1.1)' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from sub" -l tls-alpn -d 'Application protocol to ask for (ALPN), e.g. x-amzn-mqtt-ca' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from sub" -l tls-engine -d 'OpenSSL engine (refused: rustls has no OpenSSL engines)' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from sub" -l tls-engine-kpass-sha1 -d 'SHA1 of the engine key password (refused: rustls has no OpenSSL engines)' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from sub" -l psk -d 'Pre-shared key in hexadecimal (refused: rustls has no TLS-PSK)' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from sub" -l psk-identity -d 'Identity for TLS-PSK (refused: rustls has no TLS-PSK)' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from sub" -s V -l protocol-version -d 'MQTT version: mqttv31, mqttv311 or mqttv5 (31, 311, 5)' -r -f -a "mqttv31\t''
mqttv311\t''
mqttv5\t''"
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from sub" -s c -l count -d 'Number of clients' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from sub" -s R -l connect-rate -d 'New connections per second (0: as fast as possible)' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from sub" -l connect-concurrency -d 'Most connection handshakes (TCP connect to CONNACK) in progress at once (0: no limit). A limit keeps a burst within the broker\'s listen backlog, so a connect storm measures the broker\'s handshakes rather than SYN retransmission back-off' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from sub" -l bind -d 'Source address for the connections (repeat it for several: clients take them in turn). Each source address has its own ephemeral ports, so several (127.0.0.1, 127.0.0.2, ...) reach beyond the ~28,000 connections one address can open to one broker port' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from sub" -s i -l id-prefix -d 'Client id prefix; ids are <prefix>-<process id>-<client number>' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from sub" -s k -l keepalive -d 'Keep alive in seconds' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from sub" -s u -l username -d 'User name; %i is the client number, %c the client id (`-u user%i` logs each client in as its own user)' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from sub" -s P -l pw -d 'Password; %i is the client number, %c the client id' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from sub" -s D -l duration -d 'Run time in seconds, from the moment every client is connected' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from sub" -l json-file -d 'Append the JSON summary to this file as well' -r -F
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from sub" -s t -l topic -d 'Topic filter; %i is the client number, %c the client id' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from sub" -s q -l qos -d 'QoS' -r -f -a "0\t''
1\t''
2\t''"
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from sub" -s n -l messages -d 'Each client stops after this many messages (0: run for the whole duration). Messages it expected and did not receive by the end count as lost' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from sub" -l idle-timeout -d 'Each client stops once it has received messages and then none for this many seconds (0: never), so that a burst with losses ends promptly' -r
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from sub" -l tls-use-os-certs -d 'Trust the operating system\'s CA certificates (turns TLS on)'
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from sub" -l insecure -d 'Do not check that the server\'s certificate is for the host name connected to (the certificate chain is still verified). Testing only'
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from sub" -l persistent -d 'Persistent sessions: clean session off (MQTT 5: clean start off, session expiry never), so a broker with persistence stores what it queues and acknowledges for them'
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from sub" -l json -d 'Print one JSON line as the summary'
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from sub" -l help -d 'Print help'
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from help" -f -a "conn" -d 'Open connections and hold them (connect rate, idle cost)'
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from help" -f -a "pub" -d 'Publish from many clients'
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from help" -f -a "sub" -d 'Subscribe from many clients and measure throughput, latency, loss and order'
complete -c mq -n "__fish_mq_using_subcommand bench; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mq -n "__fish_mq_using_subcommand db; and not __fish_seen_subcommand_from stats check dump compact import help" -s c -l config-file -d 'The broker configuration naming the store (persistence_location, persistence_file)' -r -F
complete -c mq -n "__fish_mq_using_subcommand db; and not __fish_seen_subcommand_from stats check dump compact import help" -l store -d 'The store directory itself (`<persistence_location>/<persistence_file>.mq`)' -r -F
complete -c mq -n "__fish_mq_using_subcommand db; and not __fish_seen_subcommand_from stats check dump compact import help" -s h -l help -d 'Print help'
complete -c mq -n "__fish_mq_using_subcommand db; and not __fish_seen_subcommand_from stats check dump compact import help" -s V -l version -d 'Print version'
complete -c mq -n "__fish_mq_using_subcommand db; and not __fish_seen_subcommand_from stats check dump compact import help" -f -a "stats" -d 'Print what the store holds'
complete -c mq -n "__fish_mq_using_subcommand db; and not __fish_seen_subcommand_from stats check dump compact import help" -f -a "check" -d 'Read every file to its end; exit 1 if any is damaged'
complete -c mq -n "__fish_mq_using_subcommand db; and not __fish_seen_subcommand_from stats check dump compact import help" -f -a "dump" -d 'Print every retained message and session as JSON lines'
complete -c mq -n "__fish_mq_using_subcommand db; and not __fish_seen_subcommand_from stats check dump compact import help" -f -a "compact" -d 'Fold the journals into a base (the broker must not be running)'
complete -c mq -n "__fish_mq_using_subcommand db; and not __fish_seen_subcommand_from stats check dump compact import help" -f -a "import" -d 'Copy a Mosquitto persistence file (mosquitto.db) into the store (the broker must not be running)'
complete -c mq -n "__fish_mq_using_subcommand db; and not __fish_seen_subcommand_from stats check dump compact import help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mq -n "__fish_mq_using_subcommand db; and __fish_seen_subcommand_from stats" -s c -l config-file -d 'The broker configuration naming the store (persistence_location, persistence_file)' -r -F
complete -c mq -n "__fish_mq_using_subcommand db; and __fish_seen_subcommand_from stats" -l store -d 'The store directory itself (`<persistence_location>/<persistence_file>.mq`)' -r -F
complete -c mq -n "__fish_mq_using_subcommand db; and __fish_seen_subcommand_from stats" -s h -l help -d 'Print help'
complete -c mq -n "__fish_mq_using_subcommand db; and __fish_seen_subcommand_from stats" -s V -l version -d 'Print version'
complete -c mq -n "__fish_mq_using_subcommand db; and __fish_seen_subcommand_from check" -s c -l config-file -d 'The broker configuration naming the store (persistence_location, persistence_file)' -r -F
complete -c mq -n "__fish_mq_using_subcommand db; and __fish_seen_subcommand_from check" -l store -d 'The store directory itself (`<persistence_location>/<persistence_file>.mq`)' -r -F
complete -c mq -n "__fish_mq_using_subcommand db; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help'
complete -c mq -n "__fish_mq_using_subcommand db; and __fish_seen_subcommand_from check" -s V -l version -d 'Print version'
complete -c mq -n "__fish_mq_using_subcommand db; and __fish_seen_subcommand_from dump" -s c -l config-file -d 'The broker configuration naming the store (persistence_location, persistence_file)' -r -F
complete -c mq -n "__fish_mq_using_subcommand db; and __fish_seen_subcommand_from dump" -l store -d 'The store directory itself (`<persistence_location>/<persistence_file>.mq`)' -r -F
complete -c mq -n "__fish_mq_using_subcommand db; and __fish_seen_subcommand_from dump" -s h -l help -d 'Print help'
complete -c mq -n "__fish_mq_using_subcommand db; and __fish_seen_subcommand_from dump" -s V -l version -d 'Print version'
complete -c mq -n "__fish_mq_using_subcommand db; and __fish_seen_subcommand_from compact" -s c -l config-file -d 'The broker configuration naming the store (persistence_location, persistence_file)' -r -F
complete -c mq -n "__fish_mq_using_subcommand db; and __fish_seen_subcommand_from compact" -l store -d 'The store directory itself (`<persistence_location>/<persistence_file>.mq`)' -r -F
complete -c mq -n "__fish_mq_using_subcommand db; and __fish_seen_subcommand_from compact" -s h -l help -d 'Print help'
complete -c mq -n "__fish_mq_using_subcommand db; and __fish_seen_subcommand_from compact" -s V -l version -d 'Print version'
complete -c mq -n "__fish_mq_using_subcommand db; and __fish_seen_subcommand_from import" -s c -l config-file -d 'The broker configuration naming the store (persistence_location, persistence_file)' -r -F
complete -c mq -n "__fish_mq_using_subcommand db; and __fish_seen_subcommand_from import" -l store -d 'The store directory itself (`<persistence_location>/<persistence_file>.mq`)' -r -F
complete -c mq -n "__fish_mq_using_subcommand db; and __fish_seen_subcommand_from import" -l merge -d 'Import into a store that holds state already: a retained topic or a session the file also has is replaced by the file\'s, the rest is kept'
complete -c mq -n "__fish_mq_using_subcommand db; and __fish_seen_subcommand_from import" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mq -n "__fish_mq_using_subcommand db; and __fish_seen_subcommand_from import" -s V -l version -d 'Print version'
complete -c mq -n "__fish_mq_using_subcommand db; and __fish_seen_subcommand_from help" -f -a "stats" -d 'Print what the store holds'
complete -c mq -n "__fish_mq_using_subcommand db; and __fish_seen_subcommand_from help" -f -a "check" -d 'Read every file to its end; exit 1 if any is damaged'
complete -c mq -n "__fish_mq_using_subcommand db; and __fish_seen_subcommand_from help" -f -a "dump" -d 'Print every retained message and session as JSON lines'
complete -c mq -n "__fish_mq_using_subcommand db; and __fish_seen_subcommand_from help" -f -a "compact" -d 'Fold the journals into a base (the broker must not be running)'
complete -c mq -n "__fish_mq_using_subcommand db; and __fish_seen_subcommand_from help" -f -a "import" -d 'Copy a Mosquitto persistence file (mosquitto.db) into the store (the broker must not be running)'
complete -c mq -n "__fish_mq_using_subcommand db; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mq -n "__fish_mq_using_subcommand help; and not __fish_seen_subcommand_from broker pub sub rr passwd bench db help" -f -a "broker" -d 'Run the MQTT broker (mosquitto)'
complete -c mq -n "__fish_mq_using_subcommand help; and not __fish_seen_subcommand_from broker pub sub rr passwd bench db help" -f -a "pub" -d 'Publish a message (mosquitto_pub); the same options as mq-pub'
complete -c mq -n "__fish_mq_using_subcommand help; and not __fish_seen_subcommand_from broker pub sub rr passwd bench db help" -f -a "sub" -d 'Subscribe and print messages (mosquitto_sub); the same options as mq-sub'
complete -c mq -n "__fish_mq_using_subcommand help; and not __fish_seen_subcommand_from broker pub sub rr passwd bench db help" -f -a "rr" -d 'Send a request and wait for the response (mosquitto_rr); the same options as mq-rr'
complete -c mq -n "__fish_mq_using_subcommand help; and not __fish_seen_subcommand_from broker pub sub rr passwd bench db help" -f -a "passwd" -d 'Manage password files (mosquitto_passwd)'
complete -c mq -n "__fish_mq_using_subcommand help; and not __fish_seen_subcommand_from broker pub sub rr passwd bench db help" -f -a "bench" -d 'Load-test a broker: many connections, publishers or subscribers from one process'
complete -c mq -n "__fish_mq_using_subcommand help; and not __fish_seen_subcommand_from broker pub sub rr passwd bench db help" -f -a "db" -d 'Inspect, check, dump or compact the broker\'s persistent store, or import Mosquitto\'s into it'
complete -c mq -n "__fish_mq_using_subcommand help; and not __fish_seen_subcommand_from broker pub sub rr passwd bench db help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mq -n "__fish_mq_using_subcommand help; and __fish_seen_subcommand_from bench" -f -a "conn" -d 'Open connections and hold them (connect rate, idle cost)'
complete -c mq -n "__fish_mq_using_subcommand help; and __fish_seen_subcommand_from bench" -f -a "pub" -d 'Publish from many clients'
complete -c mq -n "__fish_mq_using_subcommand help; and __fish_seen_subcommand_from bench" -f -a "sub" -d 'Subscribe from many clients and measure throughput, latency, loss and order'
complete -c mq -n "__fish_mq_using_subcommand help; and __fish_seen_subcommand_from db" -f -a "stats" -d 'Print what the store holds'
complete -c mq -n "__fish_mq_using_subcommand help; and __fish_seen_subcommand_from db" -f -a "check" -d 'Read every file to its end; exit 1 if any is damaged'
complete -c mq -n "__fish_mq_using_subcommand help; and __fish_seen_subcommand_from db" -f -a "dump" -d 'Print every retained message and session as JSON lines'
complete -c mq -n "__fish_mq_using_subcommand help; and __fish_seen_subcommand_from db" -f -a "compact" -d 'Fold the journals into a base (the broker must not be running)'
complete -c mq -n "__fish_mq_using_subcommand help; and __fish_seen_subcommand_from db" -f -a "import" -d 'Copy a Mosquitto persistence file (mosquitto.db) into the store (the broker must not be running)'
