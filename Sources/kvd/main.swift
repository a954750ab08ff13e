// kvd: the server executable. Everything but flag parsing lives in KeelServer (KvdMain).
await KvdCommand.main()
