import ContactListenerCLI

// The stock binary: the built-in handlers only. A custom build calls the same entry point
// with its own handler types (see Examples/CustomHandler).
ContactListener.main(handlers: [])
