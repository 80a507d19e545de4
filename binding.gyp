{
  "targets": [
    {
      "target_name": "swarmnet_netns",
      "sources": ["native/netns.c", "native/probe.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-std=gnu11"]
    }
  ]
}
