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
complete -c mq -n "__fish_mq_needs_command" -f -a "passwd" -d 'Manage password files (mosquitto_passwd)'
complete -c mq -n "__fish_mq_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mq -n "__fish_mq_using_subcommand broker" -s c -l config-file -d 'Configuration file (mosquitto.conf syntax)' -r -F
complete -c mq -n "__fish_mq_using_subcommand broker" -s p -l port -d 'Listen on this port of the loopback interface (up to 10 times); ignored when the configuration file defines listeners' -r
complete -c mq -n "__fish_mq_using_subcommand broker" -s d -l daemon -d 'Run in the background (fork, detach from the terminal)'
complete -c mq -n "__fish_mq_using_subcommand broker" -s v -l verbose -d 'Log everything (all log types)'
complete -c mq -n "__fish_mq_using_subcommand broker" -l test-config -d 'Check the configuration, print what is wrong, and exit without starting'
complete -c mq -n "__fish_mq_using_subcommand broker" -s h -l help -d 'Print help'
complete -c mq -n "__fish_mq_using_subcommand broker" -s V -l version -d 'Print version'
complete -c mq -n "__fish_mq_using_subcommand passwd" -s H -d 'Hash algorithm: sha512-pbkdf2 (default, `$7$`), sha512 (`$6$`, Mosquitto 1.6 and earlier) or argon2id (Mosquitto 2.1 with argon2 only)' -r
complete -c mq -n "__fish_mq_using_subcommand passwd" -s I -d 'PBKDF2 iterations for sha512-pbkdf2 (default 10000; Mosquitto uses 101)' -r
complete -c mq -n "__fish_mq_using_subcommand passwd" -s b -d 'Batch mode: take the password from the command line (visible to other local users in `ps` and kept in shell history)'
complete -c mq -n "__fish_mq_using_subcommand passwd" -s c -d 'Create a new password file, replacing an existing one'
complete -c mq -n "__fish_mq_using_subcommand passwd" -s D -d 'Delete the user rather than adding or updating its password'
complete -c mq -n "__fish_mq_using_subcommand passwd" -s U -d 'Upgrade a plain-text password file (user:password lines) to hashed passwords'
complete -c mq -n "__fish_mq_using_subcommand passwd" -s V -l version -d 'Print version'
complete -c mq -n "__fish_mq_using_subcommand help; and not __fish_seen_subcommand_from broker passwd help" -f -a "broker" -d 'Run the MQTT broker (mosquitto)'
complete -c mq -n "__fish_mq_using_subcommand help; and not __fish_seen_subcommand_from broker passwd help" -f -a "passwd" -d 'Manage password files (mosquitto_passwd)'
complete -c mq -n "__fish_mq_using_subcommand help; and not __fish_seen_subcommand_from broker passwd help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
