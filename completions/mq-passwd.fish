complete -c mq-passwd -s H -d 'Hash algorithm: sha512-pbkdf2 (default, `$7$`), sha512 (`$6$`, Mosquitto 1.6 and earlier) or argon2id (Mosquitto 2.1 with argon2 only)' -r -f -a "sha512-pbkdf2\t''
sha512\t''
argon2id\t''"
complete -c mq-passwd -s I -d 'PBKDF2 iterations for sha512-pbkdf2 (default 10000; Mosquitto uses 101)' -r
complete -c mq-passwd -s b -d 'Batch mode: take the password from the command line (visible to other local users in `ps` and kept in shell history)'
complete -c mq-passwd -s c -d 'Create a new password file, replacing an existing one'
complete -c mq-passwd -s D -d 'Delete the user rather than adding or updating its password'
complete -c mq-passwd -s U -d 'Upgrade a plain-text password file (user:password lines) to hashed passwords'
complete -c mq-passwd -s h -l help -d 'Print help'
complete -c mq-passwd -s V -l version -d 'Print version'
