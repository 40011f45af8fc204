"""Server-first greetings: the SSH identification line, the telnet banner behind option negotiation, and
the FTP greeting reply. Pure functions and one small state machine, no sockets; every input bounded.

- **SSH** (RFC 4253 §4.2): the server sends ``SSH-protoversion-softwareversion [SP comments] CR LF``, at
  most 255 characters with the CR LF, and MAY send other lines first (none of them starting ``SSH-``).
  We read at most ``MAX_SSH_LINES`` such lines and ``MAX_SSH_BYTES`` bytes in all.
- **Telnet** (RFC 854, RFC 855): ``IAC`` (255) starts a command. ``IAC DO x`` / ``IAC WILL x`` ask us to
  enable an option; we refuse every one (``IAC WONT x`` / ``IAC DONT x``), each (verb, option) once, so a
  flood of requests gets at most 2 x 256 refusals. ``IAC DONT`` / ``IAC WONT`` ask for what we already do
  and get no answer (RFC 854: a request to enter a mode one is already in is not acknowledged).
  Subnegotiation (``IAC SB … IAC SE``) and the other two-byte commands are dropped; ``IAC IAC`` is a data
  byte 255; ``CR NUL`` is a bare CR and a lone NUL is the NVT no-op. At most ``MAX_TELNET_DATA`` bytes of
  data are kept.
- **FTP** (RFC 959 §4.2): a reply is ``NNN text`` on one line, or ``NNN-text`` … up to a line that starts
  with the same ``NNN`` and a space. A ``1xx`` reply (``120 Service ready in nnn minutes``) is followed by
  the real greeting; we keep the replies up to the first that is not ``1xx``, at most ``MAX_FTP_LINES``
  lines and ``MAX_FTP_BYTES`` bytes.

The values keep their line ends as ``\\r\\n`` (fingerprints/banners/telnet.toml and ftp.toml match across
lines) and only printable characters otherwise.
"""

from __future__ import annotations

import re

# SSH: RFC 4253 §4.2
MAX_SSH_IDENT = 255  # bytes of the identification line, CR LF included
MAX_SSH_LINES = 16  # other lines before it that we read past
MAX_SSH_BYTES = 8 * 1024

# telnet: RFC 854 commands, RFC 855 option negotiation
IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
MAX_TELNET_DATA = 4096  # bytes of banner text kept
MAX_TELNET_RAW = 64 * 1024  # bytes read from a telnet peer in all (data, commands, subnegotiation)

# FTP: RFC 959 §4.2
MAX_FTP_LINES = 32
MAX_FTP_BYTES = 8 * 1024

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")  # ECMA-48 control sequences (CSI, Fe)
_FTP_LINE = re.compile(rb"^(\d{3})([ -])")
# a login prompt at the end of what a telnet server has sent: it now waits for us, so we stop reading
_PROMPT = re.compile(r"(?i)(?:login|username|user name|user|password|account|name)\s*:\s*$")


def printable(text: str, *, keep_lines: bool) -> str:
    """``text`` without control sequences and non-printable characters; CR, LF and TAB kept when
    ``keep_lines``, else each made a space."""
    text = _ANSI.sub("", text)
    keep = "\r\n\t" if keep_lines else ""
    return "".join(c if c.isprintable() or c in keep else (" " if c in "\r\n\t" else "") for c in text)


def decode(data: bytes) -> str:
    """Bytes as text: UTF-8, anything else byte by byte (Latin-1), so no byte is an error."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


# ---------------------------------------------------------------- SSH


def ssh_identification(data: bytes, *, ended: bool = False) -> tuple[str | None, bool]:
    """(the identification line, done) from the first bytes an SSH server sent.

    done is True when reading further cannot change the answer: the line was found, or more than
    ``MAX_SSH_LINES`` other lines or ``MAX_SSH_BYTES`` bytes came first (None: not SSH, or too chatty).
    ``ended``: nothing more will come (closed, out of time): a last line without its CR LF counts.
    """
    lines = data[:MAX_SSH_BYTES].split(b"\n")
    tail = lines.pop()
    for count, raw in enumerate(lines):
        if count > MAX_SSH_LINES:
            return None, True
        if raw.startswith(b"SSH-"):
            return _ssh_text(raw), True
    if tail.startswith(b"SSH-") and (ended or len(tail) >= MAX_SSH_IDENT):
        return _ssh_text(tail), True  # no line end: the whole line came, or an over-long one was cut
    if len(lines) > MAX_SSH_LINES or len(data) >= MAX_SSH_BYTES:
        return None, True
    return None, ended


def _ssh_text(line: bytes) -> str | None:
    text = printable(decode(line[: MAX_SSH_IDENT - 2].removesuffix(b"\r")), keep_lines=False).strip()
    return text or None


# ---------------------------------------------------------------- telnet


class TelnetNegotiation:
    """One telnet connection's receiving side: ``feed`` each chunk read, send back what it returns (only
    refusals), and read the banner's bytes in ``data``."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.raw = 0  # bytes fed in all
        self.refused: set[tuple[int, int]] = set()  # (verb we sent, option)
        self._state = "data"  # data | iac | option | sb | sb-iac
        self._verb = 0

    @property
    def full(self) -> bool:
        """Whether reading more would be pointless: the data cap or the raw cap is reached."""
        return len(self.data) >= MAX_TELNET_DATA or self.raw >= MAX_TELNET_RAW

    def feed(self, chunk: bytes) -> bytes:
        """Take ``chunk`` (the part past the raw cap is ignored); the refusals to send for it."""
        chunk = chunk[: max(0, MAX_TELNET_RAW - self.raw)]
        self.raw += len(chunk)
        out = bytearray()
        for byte in chunk:
            state = self._state
            if state == "data":
                if byte == IAC:
                    self._state = "iac"
                elif byte != 0:  # CR NUL is a bare CR (the CR is kept); a lone NUL is the NVT no-op
                    self._keep(byte)
            elif state == "iac":
                self._command(byte)
            elif state == "option":
                self._state = "data"
                out += self._refusal(byte)
            elif state == "sb":
                if byte == IAC:
                    self._state = "sb-iac"
            else:  # sb-iac: IAC SE ends the subnegotiation; IAC IAC (a 255 inside it) and the rest do not
                self._state = "data" if byte == SE else "sb"
        return bytes(out)

    def _command(self, byte: int) -> None:
        """The byte after an IAC in data."""
        self._state = "data"
        if byte == IAC:
            self._keep(IAC)  # IAC IAC: the data byte 255
        elif byte in (DO, DONT, WILL, WONT):
            self._verb, self._state = byte, "option"
        elif byte == SB:
            self._state = "sb"
        # any other command (NOP, GA, AYT, a stray SE …) carries no data: dropped

    def _refusal(self, option: int) -> bytes:
        """Our answer to ``IAC <verb> option``: WONT for DO, DONT for WILL, once each; else nothing."""
        answer = {DO: WONT, WILL: DONT}.get(self._verb)
        if answer is None or (answer, option) in self.refused:
            return b""
        self.refused.add((answer, option))
        return bytes((IAC, answer, option))

    def _keep(self, byte: int) -> None:
        if len(self.data) < MAX_TELNET_DATA:
            self.data.append(byte)

    @property
    def text(self) -> str | None:
        """The banner so far (``telnet_text``)."""
        return telnet_text(bytes(self.data))

    @property
    def at_prompt(self) -> bool:
        """Whether the banner so far ends with a login prompt (the server now waits for a name)."""
        tail = printable(decode(bytes(self.data[-96:])), keep_lines=True)
        return bool(_PROMPT.search(tail))


def telnet_text(data: bytes) -> str | None:
    """A telnet banner's data bytes as text, line ends kept; None when empty or mostly not text
    (binary garbage is no banner)."""
    text = decode(data)
    clean = printable(text, keep_lines=True).strip()
    if not clean or len(clean) * 4 < len(text.strip()) * 3:  # under 3/4 of it printable: not a banner
        return None
    return clean


# ---------------------------------------------------------------- FTP


def ftp_greeting(data: bytes, *, ended: bool = False) -> tuple[str | None, bool]:
    """(the greeting, done) from the first bytes an FTP server sent: its replies' lines up to the end of
    the first reply that is not ``1xx``, joined by ``\\r\\n``.

    done is True when reading further cannot change the answer: the greeting ended, the first line is no
    FTP reply (None), or ``MAX_FTP_LINES`` / ``MAX_FTP_BYTES`` were reached (the lines so far). ``ended``:
    nothing more will come: the lines so far, a last one without its line end included.
    """
    lines = data[:MAX_FTP_BYTES].split(b"\n")
    tail = lines.pop()
    if ended and tail.strip():
        lines.append(tail)
    if not lines:
        return None, ended or len(data) >= MAX_FTP_BYTES
    if _FTP_LINE.match(lines[0]) is None:
        return None, True
    kept: list[bytes] = []
    code: bytes | None = None  # the code of the reply being read (None: between replies)
    for raw in lines[:MAX_FTP_LINES]:
        line = raw.removesuffix(b"\r")
        kept.append(line)
        match = _FTP_LINE.match(line)
        if code is None:
            if match is None:  # a reply must start with its code: what follows is not FTP
                return _ftp_text(kept[:-1]), True
            code = match[1]
            if match[2] == b"-":
                continue
        elif not (match and match[1] == code and match[2] == b" "):
            continue  # a line inside a multi-line reply
        if not code.startswith(b"1"):
            return _ftp_text(kept), True
        code = None
    done = ended or len(lines) >= MAX_FTP_LINES or len(data) >= MAX_FTP_BYTES
    return (_ftp_text(kept) if done else None), done


def _ftp_text(lines: list[bytes]) -> str | None:
    text = "\r\n".join(printable(decode(line), keep_lines=False) for line in lines).strip()
    return text or None
