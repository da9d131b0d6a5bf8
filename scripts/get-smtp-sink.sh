#!/bin/sh
# Fetch Postfix's C smtp-sink for bench_send without installing Postfix:
# the Debian package is downloaded and unpacked under var/tools/ only.
set -eu
cd "$(dirname "$0")/.."
mkdir -p var/tools
cd var/tools
if [ ! -x postfix/usr/sbin/smtp-sink ]; then
    apt-get download postfix
    dpkg -x postfix_*.deb postfix
    rm -f postfix_*.deb
fi
# The binary needs Postfix's own shared libraries from the same package.
cat > smtp-sink <<WRAPPER
#!/bin/sh
LD_LIBRARY_PATH="$(pwd)/postfix/usr/lib/postfix" exec "$(pwd)/postfix/usr/sbin/smtp-sink" "\$@"
WRAPPER
chmod +x smtp-sink
echo "$(pwd)/smtp-sink"
