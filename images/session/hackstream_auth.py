# HackStream one-time token authentication for xpra 3.1 (installed as xpra.server.auth.hackstream_auth).
#
#   --ssl-auth=hackstream:pubkey=/run/hackstream/token.pub[,refused_until=/run/hackstream/token.refused-until][,used_dir=/tmp/hackstream-used]
#
# A token is a pair: the client's username is "<expiry unix s>-<issued epoch ms>_<random id>", its password is
# base64url(Ed25519 signature of "hackstream-native-token:" + username) without padding, made by
# the API with the session's private key. The container holds only the public key (32 raw bytes,
# hex, in `pubkey`, placed by the worker), so nothing readable here mints a token; without the
# file (a warm container nobody claimed yet) nobody gets in.
#
# Checking a signature needs the password itself, so this module asks for xpra's "xor" digest, as
# xpra's own pam and ldap modules do: the client sends the password xored with the salt, which
# xpra 3.1's client does only over an encrypted connection (ssl or wss), and this module refuses
# any other. A token is refused after its expiry, and accepted once: its id is recorded with an
# exclusive create, so of concurrent connections with one token exactly one gets in. After an
# account change (password, role, disable) the worker writes `refused_until` (epoch ms): tokens
# issued until then are refused, and so is any token without an issue time.

import base64
import os
import re
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from xpra.os_util import strtobytes
from xpra.server.auth.sys_auth_base import SysAuthenticatorBase, log

# "<expiry>-<issued ms>_<random>"; a token without the issue time still parses (and is refused
# once an account change wrote a bound).
TOKEN_ID = re.compile(r"^([0-9]{9,11})-(?:([0-9]{13})_)?[A-Za-z0-9_-]{16,64}$")
# An Ed25519 signature is 64 bytes: 86 base64url characters without padding.
SIGNATURE = re.compile(r"^[A-Za-z0-9_-]{86}$")
SIGNED_CONTEXT = b"hackstream-native-token:"
ENCRYPTED_SOCKETS = ("ssl", "wss")
DEFAULT_PUBKEY = "/run/hackstream/token.pub"
DEFAULT_REFUSED_UNTIL = "/run/hackstream/token.refused-until"
DEFAULT_USED_DIR = "/tmp/hackstream-used"


def init(opts):
    pass


class Authenticator(SysAuthenticatorBase):

    def __init__(self, username, **kwargs):
        self.pubkey = kwargs.pop("pubkey", DEFAULT_PUBKEY)
        self.refused_until = kwargs.pop("refused_until", DEFAULT_REFUSED_UNTIL)
        self.used_dir = kwargs.pop("used_dir", DEFAULT_USED_DIR)
        connection = kwargs.get("connection")
        self.socktype = getattr(connection, "socktype_wrapped", None) or getattr(connection, "socktype", None)
        SysAuthenticatorBase.__init__(self, username, **kwargs)

    def __repr__(self):
        return "hackstream one-time token"

    def get_uid(self):
        return os.getuid()

    def get_gid(self):
        return os.getgid()

    def requires_challenge(self):
        return True

    def get_challenge(self, digests):
        # The password must reach us to be verified: "xor" it is, and only inside TLS.
        if self.socktype not in ENCRYPTED_SOCKETS:
            log.error("Error: hackstream auth: refusing a %s connection, only %s", self.socktype, ENCRYPTED_SOCKETS)
            return None
        if "xor" not in digests:
            log.warn("Warning: hackstream auth requires the 'xor' digest, the client offered %s", digests)
            return None
        return SysAuthenticatorBase.get_challenge(self, ["xor"])

    def public_key(self):
        with open(self.pubkey, "r") as f:
            raw = bytes.fromhex(f.read().strip())
        if len(raw) != 32:
            raise ValueError("the session's public key is not set")
        return Ed25519PublicKey.from_public_bytes(raw)

    def refused_by_account_change(self, issued):
        try:
            with open(self.refused_until, "r") as f:
                # One bound per account change, appended: the highest holds.
                bound = max((int(line) for line in f.read().split()), default=0)
        except FileNotFoundError:
            return False
        except (OSError, ValueError) as e:
            # Unreadable or garbled: refuse rather than admit a token that may be revoked.
            log.error("Error: hackstream auth: cannot read %s: %s", self.refused_until, e)
            return True
        return issued is None or int(issued) <= bound

    def consume(self, token_id):
        os.makedirs(self.used_dir, mode=0o700, exist_ok=True)
        try:
            fd = os.open(os.path.join(self.used_dir, token_id), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            return False
        os.close(fd)
        return True

    def check(self, password):
        # Called by authenticate_check with the password recovered from the xor response.
        token_id = self.username or ""
        m = TOKEN_ID.match(token_id)
        if not m:
            log.warn("Warning: hackstream auth: malformed token id")
            return False
        if time.time() > int(m.group(1)):
            log.warn("Warning: hackstream auth: token %s has expired", token_id)
            return False
        try:
            encoded = strtobytes(password).decode("ascii").strip()
        except UnicodeDecodeError:
            encoded = ""
        if not SIGNATURE.match(encoded):
            log.warn("Warning: hackstream auth: malformed token for %s", token_id)
            return False
        signature = base64.urlsafe_b64decode(encoded + "==")
        try:
            key = self.public_key()
        except (OSError, ValueError) as e:
            log.error("Error: hackstream auth: cannot read the session's public key: %s", e)
            return False
        try:
            key.verify(signature, SIGNED_CONTEXT + token_id.encode("ascii"))
        except InvalidSignature:
            log.warn("Warning: hackstream auth: wrong token for %s", token_id)
            return False
        if self.refused_by_account_change(m.group(2)):
            log.warn("Warning: hackstream auth: token %s was revoked by an account change", token_id)
            return False
        if not self.consume(token_id):
            log.warn("Warning: hackstream auth: token %s was already used", token_id)
            return False
        log.info("hackstream auth: token %s accepted", token_id)
        return True
