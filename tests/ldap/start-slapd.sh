#!/usr/bin/env bash
# Starts a private OpenLDAP server for the directory-login tests:
#   start-slapd.sh DIR LDAP_PORT LDAPS_PORT
# Everything lives under DIR (config, database, a test CA and the server's certificate); the system's own
# slapd instance, if any, is never used. slapd listens on 127.0.0.1 only and writes its PID to DIR/slapd.pid;
# the caller stops it by that PID. Installs slapd, ldap-utils and openssl when run as root and they are missing.
set -euo pipefail
dir=$(realpath -m "${1:?usage: start-slapd.sh DIR LDAP_PORT LDAPS_PORT}")
port=${2:?ldap port}
tls_port=${3:?ldaps port}

need=()
command -v slapd >/dev/null 2>&1 || [[ -x /usr/sbin/slapd ]] || need+=(slapd)
command -v ldapmodify >/dev/null 2>&1 || need+=(ldap-utils)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if ((${#need[@]})); then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    apt-get update -qq
    # The package's postinst sets up a system instance; it is left alone (and not started here).
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "start-slapd.sh: missing ${need[*]} and cannot install them" >&2
    exit 2
  fi
fi
slapd=$(command -v slapd || echo /usr/sbin/slapd)

mkdir -p "$dir/db" "$dir/tls"
cd "$dir"

# A test CA and a server certificate for 127.0.0.1 and localhost.
if [[ ! -f tls/server.pem ]]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=wharf test directory CA" \
    -keyout tls/ca.key -out tls/ca.pem 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout tls/server.key -out tls/server.csr 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > tls/ext.cnf
  openssl x509 -req -in tls/server.csr -CA tls/ca.pem -CAkey tls/ca.key -CAcreateserial -days 2 \
    -extfile tls/ext.cnf -out tls/server.pem 2>/dev/null
fi

cat > slapd.conf <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile $dir/slapd.pid
argsfile $dir/slapd.args
TLSCACertificateFile $dir/tls/ca.pem
TLSCertificateFile $dir/tls/server.pem
TLSCertificateKeyFile $dir/tls/server.key
database mdb
maxsize 16777216
suffix "dc=wharf,dc=test"
rootdn "cn=admin,dc=wharf,dc=test"
rootpw secret
directory $dir/db
access to attrs=userPassword by self read by anonymous auth by * none
access to * by * read
CONF

# The tree: people, a group per project (cn = the project's name in any case), a nested group, and carol in none.
#   Lab     ← alice, erin
#   Infra   ← Ops ← bob
#   Admins  ← erin
cat > tree.ldif <<'LDIF'
dn: dc=wharf,dc=test
objectClass: dcObject
objectClass: organization
o: wharf test
dc: wharf

dn: ou=people,dc=wharf,dc=test
objectClass: organizationalUnit
ou: people

dn: ou=groups,dc=wharf,dc=test
objectClass: organizationalUnit
ou: groups

dn: cn=reader,dc=wharf,dc=test
objectClass: person
cn: reader
sn: reader
userPassword: ReaderPass1

dn: uid=alice,ou=people,dc=wharf,dc=test
objectClass: inetOrgPerson
uid: alice
cn: Alice Example
sn: Example
displayName: Alice Example
mail: alice@wharf.test
userPassword: AlicePass1

dn: uid=bob,ou=people,dc=wharf,dc=test
objectClass: inetOrgPerson
uid: bob
cn: Bob Example
sn: Example
mail: bob@wharf.test
userPassword: BobPass12

dn: uid=carol,ou=people,dc=wharf,dc=test
objectClass: inetOrgPerson
uid: carol
cn: Carol Example
sn: Example
userPassword: CarolPass1

dn: uid=dave,ou=people,dc=wharf,dc=test
objectClass: inetOrgPerson
uid: dave
cn: Dave Example
sn: Example
userPassword: DavePass12

dn: uid=erin,ou=people,dc=wharf,dc=test
objectClass: inetOrgPerson
uid: erin
cn: Erin Example
sn: Example
userPassword: ErinPass12

dn: cn=Lab,ou=groups,dc=wharf,dc=test
objectClass: groupOfNames
cn: Lab
member: uid=alice,ou=people,dc=wharf,dc=test
member: uid=erin,ou=people,dc=wharf,dc=test

dn: cn=Ops,ou=groups,dc=wharf,dc=test
objectClass: groupOfNames
cn: Ops
member: uid=bob,ou=people,dc=wharf,dc=test

dn: cn=Infra,ou=groups,dc=wharf,dc=test
objectClass: groupOfNames
cn: Infra
member: cn=Ops,ou=groups,dc=wharf,dc=test

dn: cn=Admins,ou=groups,dc=wharf,dc=test
objectClass: groupOfNames
cn: Admins
member: uid=erin,ou=people,dc=wharf,dc=test
LDIF

if [[ ! -f db/data.mdb ]]; then
  "$slapd" -T add -f slapd.conf -l tree.ldif >/dev/null 2>slapadd.log || { cat slapadd.log >&2; exit 1; }
fi

rm -f slapd.pid
"$slapd" -f slapd.conf -h "ldap://127.0.0.1:$port/ ldaps://127.0.0.1:$tls_port/" 2>slapd.log || { cat slapd.log >&2; exit 1; }

# slapd forks; its PID file appears once it listens. Bounded wait.
for _ in $(seq 1 100); do
  if [[ -s slapd.pid ]] && ldapsearch -x -H "ldap://127.0.0.1:$port/" -b "dc=wharf,dc=test" -s base "(objectClass=*)" dn >/dev/null 2>&1; then
    cat slapd.pid
    exit 0
  fi
  sleep 0.1
done
echo "start-slapd.sh: slapd did not answer on port $port" >&2
cat slapd.log >&2
[[ -s slapd.pid ]] && kill "$(cat slapd.pid)" 2>/dev/null
exit 1
