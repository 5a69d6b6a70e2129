"""The learning core of ActuallyOpenAI: skills, shards, deterministic traced training, aggregation,
the safetensors weight codec and the IPFS weight store. Plain Python: no chain access."""
