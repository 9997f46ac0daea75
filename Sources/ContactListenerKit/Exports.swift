// A plugin author imports ContactListenerKit alone: the contact event it hands to a
// handler, and the request types, come from ContactCore.
@_exported import ContactCore
