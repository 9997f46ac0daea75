import ContactListenerCLI

// Everything the stock binary does (serve, cgi, spool, drain, …), plus `type: csv`.
ContactListener.main(handlers: [CSVHandler.Factory.self])
