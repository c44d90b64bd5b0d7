"""The embedded default's Celery broker: kombu's filesystem transport, with whole messages.

kombu writes a message straight into the queue folder and a reader moves any file it finds
there, locked or not: a worker could take a file before the writer had written it and
crash on an empty message (`make run`'s worker died so). A message is written under a
name no reader looks for, then renamed into place, which is atomic in one folder.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic

from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class WholeMessageChannel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        """Put ``payload`` on ``queue`` as one complete file, or not at all."""
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # Readers take only "<stamp>_<uuid>.<queue>.msg": ".partial" is never theirs.
        partial = f"{final}.partial"
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot add file {final!r} to directory") from exc


class WholeMessageTransport(filesystem.Transport):
    Channel = WholeMessageChannel
