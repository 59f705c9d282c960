# HackStream one-time token authentication for xpra 3.1 (installed as xpra.server.auth.hackstream_auth).
#
#   --ssl-auth=hackstream:keyfile=/run/hackstream/token.key[,used_dir=/tmp/hackstream-used]
#
# A token is a pair: the client's username is "<expiry unix seconds>-<random id>", its password
# is base64url(HMAC-SHA256(session key, username)) without padding. The session key (hex) is in
# `keyfile`, placed by the worker; the API mints tokens with the same key, so no token is ever
# delivered to the container. The password never crosses the wire: xpra's HMAC challenge proves
# the client knows it. A token is refused after its expiry, and accepted once: its id is recorded
# with an exclusive create, so of concurrent connections with one token exactly one gets in.

import base64
import hashlib
import hmac
import os
import re
import time

from xpra.net.digest import choose_digest, get_salt, verify_digest
from xpra.server.auth.sys_auth_base import SysAuthenticatorBase, log

TOKEN_ID = re.compile(r"^([0-9]{9,11})-[A-Za-z0-9_-]{16,64}$")
DEFAULT_KEYFILE = "/run/hackstream/token.key"
DEFAULT_USED_DIR = "/tmp/hackstream-used"


def init(opts):
    pass


class Authenticator(SysAuthenticatorBase):

    def __init__(self, username, **kwargs):
        self.keyfile = kwargs.pop("keyfile", DEFAULT_KEYFILE)
        self.used_dir = kwargs.pop("used_dir", DEFAULT_USED_DIR)
        SysAuthenticatorBase.__init__(self, username, **kwargs)
        self.authenticate = self.authenticate_hmac

    def __repr__(self):
        return "hackstream one-time token"

    def get_uid(self):
        return os.getuid()

    def get_gid(self):
        return os.getgid()

    def requires_challenge(self):
        return True

    def get_challenge(self, digests):
        if self.salt is not None:
            log.error("Error: hackstream auth: challenge already sent")
            self.salt = False
            return None
        digest = choose_digest(digests)
        # Only HMAC: "xor" or "des" would let the token be recovered from the response.
        if not digest or not digest.startswith("hmac"):
            log.warn("Warning: hackstream auth requires an hmac digest, the client offered %s", digests)
            return None
        self.salt = get_salt()
        self.digest = digest
        self.challenge_sent = True
        return self.salt, self.digest

    def expected_password(self, token_id):
        with open(self.keyfile, "r") as f:
            key = bytes.fromhex(f.read().strip())
        # No key (a warm container nobody claimed yet) or a short one: nothing may get in.
        if len(key) < 16:
            raise ValueError("the session key is not set")
        mac = hmac.new(key, token_id.encode("ascii"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=")

    def consume(self, token_id):
        os.makedirs(self.used_dir, mode=0o700, exist_ok=True)
        try:
            fd = os.open(os.path.join(self.used_dir, token_id), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            return False
        os.close(fd)
        return True

    def authenticate_hmac(self, challenge_response, client_salt=None):
        if not self.salt:
            log.error("Error: hackstream auth: challenge response without a challenge")
            return False
        salt = self.get_response_salt(client_salt)
        token_id = self.username or ""
        m = TOKEN_ID.match(token_id)
        if not m:
            log.warn("Warning: hackstream auth: malformed token id")
            return False
        if time.time() > int(m.group(1)):
            log.warn("Warning: hackstream auth: token %s has expired", token_id)
            return False
        try:
            password = self.expected_password(token_id)
        except (OSError, ValueError) as e:
            log.error("Error: hackstream auth: cannot read the session key: %s", e)
            return False
        if not verify_digest(self.digest, password, salt, challenge_response):
            log.warn("Warning: hackstream auth: wrong token for %s", token_id)
            return False
        if not self.consume(token_id):
            log.warn("Warning: hackstream auth: token %s was already used", token_id)
            return False
        log.info("hackstream auth: token %s accepted", token_id)
        self.password_used = password
        return True
