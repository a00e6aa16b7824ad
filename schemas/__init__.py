"""Avro schemas for every topic, the codec, and the topic table."""

from schemas.codec import AvroCodec, codec_for
from schemas.errors import DecodeError, EncodeError, LoanRiskError, SchemaError

__all__ = ["AvroCodec", "DecodeError", "EncodeError", "LoanRiskError", "SchemaError", "codec_for"]
