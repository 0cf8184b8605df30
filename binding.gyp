{
  "targets": [
    {
      "target_name": "vmscope_kvm",
      "sources": ["vmm/native/kvm.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"]
    }
  ]
}
