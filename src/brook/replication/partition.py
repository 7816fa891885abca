"""A partition replica hosted by this broker: its log plus leader epoch, replica set, ISR and HW.

Owned by the broker's event loop. Appends are synchronous, so batches from one connection reach the
log in the order their requests arrived. On a single node the ISR is this broker alone and the high
watermark follows the log end offset; with followers it will follow their fetch positions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from brook.common.errors import InvalidRecord, NotLeaderOrFollower
from brook.common.types import TopicPartition
from brook.records.batch import BatchHeader, parse_header, validate_batches
from brook.records.conversion import CODEC_BY_NAME, recompress
from brook.records.records import keys_are_present
from brook.storage.api import AppendInfo, LogConfig, PartitionLog
from brook.storage.producer_state import ProducerStateManager

logger = logging.getLogger(__name__)

__all__ = ["Partition"]

_REBUILD_CHUNK_BYTES = 4 * 1024 * 1024


@dataclass
class Partition:
    tp: TopicPartition
    log: PartitionLog
    config: LogConfig
    node_id: int
    leader: int
    leader_epoch: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    producer_state: ProducerStateManager = field(default_factory=ProducerStateManager)

    @property
    def is_leader(self) -> bool:
        return self.leader == self.node_id

    def require_leader(self) -> None:
        if not self.is_leader:
            raise NotLeaderOrFollower(f"broker {self.node_id} is not the leader of {self.tp}")

    def append_as_leader(self, data: bytearray | memoryview, now_ms: int) -> AppendInfo:
        """Validate, dedupe (idempotent producers) and append a producer's batches."""
        self.require_leader()
        batches = validate_batches(data, max_batch_bytes=self.config.max_message_bytes)
        if self.config.compact:
            _require_keys(data, batches)
        if self.config.compression_type != "producer":
            data = recompress(data, batches, CODEC_BY_NAME[self.config.compression_type])
            batches = validate_batches(data)
        if len(batches) == 1:
            duplicate = self.producer_state.find_duplicate(batches[0][1])
            if duplicate is not None:
                logger.debug("duplicate batch tp=%s offset=%d", self.tp, duplicate.first_offset)
                return AppendInfo(
                    duplicate.first_offset, duplicate.last_offset, -1, self.log.log_start_offset
                )
        else:
            for _, header in batches:
                self.producer_state.find_duplicate(header)
        info = self.log.append_as_leader(data, leader_epoch=self.leader_epoch)
        offset = info.first_offset
        for _, header in batches:
            self.producer_state.record(header, offset, now_ms)
            offset += header.last_offset_delta + 1
        if self.isr == (self.node_id,):
            self.log.update_high_watermark(self.log.log_end_offset)
        return info

    def rebuild_producer_state(self, now_ms: int) -> None:
        """Replay batch headers from the log so dedupe survives a restart."""
        self.producer_state.truncate()
        offset = self.log.log_start_offset
        end = self.log.log_end_offset
        while offset < end:
            result = self.log.read(offset, max_bytes=_REBUILD_CHUNK_BYTES)
            data = result.to_bytes()
            if not data:
                break
            pos = 0
            while pos + 61 <= len(data):
                header = parse_header(data, pos)
                if pos + header.size > len(data):
                    break
                self.producer_state.record(header, header.base_offset, now_ms)
                offset = header.next_offset
                pos += header.size
            if pos == 0:
                break


def _require_keys(data: bytearray | memoryview, batches: list[tuple[int, BatchHeader]]) -> None:
    for pos, header in batches:
        if not keys_are_present(memoryview(data)[pos : pos + header.size]):
            raise InvalidRecord("Compacted topic cannot accept message without key")
