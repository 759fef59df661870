// Package wire holds the ibctl socket's protocol as the netlinkx client
// and server share it: the table of family IDs, commands and attributes.
package wire
