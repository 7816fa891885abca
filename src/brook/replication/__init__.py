"""Partition replication state: leader epoch, replica set, ISR, high watermark (plain objects)."""
