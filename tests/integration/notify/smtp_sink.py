"""A real SMTP server on loopback (aiosmtpd is not a dependency): just enough SMTP for smtplib, over a socket."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser


@dataclass
class Received:
    mail_from: str
    recipients: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=policy.default).parsebytes(self.data)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class SmtpSink:
    """Accepts mail into ``received``; with ``password`` set it advertises AUTH PLAIN and checks it."""

    port: int = 0
    user: str | None = None
    password: str | None = None
    received: list[Received] = field(default_factory=list)
    auth_attempts: list[tuple[str, str]] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)

    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_for(self, count: int) -> list[Received]:
        """The messages once ``count`` have arrived (5 s at most)."""
        async with asyncio.timeout(5):
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.received

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def reply(line: str) -> None:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()

        await reply("220 sink.test ESMTP")
        mail_from, recipients, authenticated = "", [], self.password is None
        try:
            while line := await reader.readline():
                command = line.decode().rstrip("\r\n")
                verb = command.split(" ", 1)[0].upper()
                self.commands.append(verb)
                if verb == "EHLO":
                    extras = ["AUTH PLAIN"] if self.password is not None else []
                    for extra in ["sink.test", *extras][:-1]:
                        await reply(f"250-{extra}")
                    await reply(f"250 {(['sink.test', *extras])[-1]}")
                elif verb == "HELO":
                    await reply("250 sink.test")
                elif verb == "AUTH":
                    _, mechanism, *initial = command.split(" ")
                    assert mechanism.upper() == "PLAIN" and initial
                    _, user, password = base64.b64decode(initial[0]).decode().split("\0")
                    self.auth_attempts.append((user, password))
                    authenticated = (user, password) == (self.user, self.password)
                    await reply("235 2.7.0 accepted" if authenticated else "535 5.7.8 credentials invalid")
                elif verb == "MAIL":
                    if not authenticated:
                        await reply("530 5.7.0 authentication required")
                        continue
                    mail_from, recipients = command.split(":", 1)[1].strip().split()[0].strip("<>"), []
                    await reply("250 OK")
                elif verb == "RCPT":
                    recipients.append(command.split(":", 1)[1].strip().strip("<>"))
                    await reply("250 OK")
                elif verb == "DATA":
                    await reply("354 end with <CRLF>.<CRLF>")
                    lines = []
                    while (data_line := await reader.readline()) != b".\r\n":
                        lines.append(data_line[1:] if data_line.startswith(b"..") else data_line)
                    self.received.append(Received(mail_from, recipients, b"".join(lines)))
                    self.arrived.set()
                    await reply("250 OK queued")
                elif verb in ("RSET", "NOOP"):
                    await reply("250 OK")
                elif verb == "QUIT":
                    await reply("221 bye")
                    break
                else:
                    await reply("502 command not implemented")
        finally:
            writer.close()
