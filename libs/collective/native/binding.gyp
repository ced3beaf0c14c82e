{
  "targets": [
    {
      "target_name": "cim_shm",
      "sources": ["cim_shm.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-Wall"]
    }
  ]
}
