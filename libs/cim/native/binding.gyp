{
  "targets": [
    {
      "target_name": "cim_dnnl",
      "sources": ["cim_dnnl.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-Wall"],
      "libraries": ["-ldnnl", "-lgomp"]
    }
  ]
}
