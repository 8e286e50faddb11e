// diagnostics_channel subscriptions that survive until the publisher exists.
//
// Bun (1.4.5) lets a channel object that nobody holds be garbage-collected together with its
// subscribers: subscribing by name before the library (or node:http) creates the channel can
// silently lose the subscription. Holding the channel objects here keeps them alive; on Node it
// changes nothing.
import dc from 'node:diagnostics_channel';

const held: dc.Channel[] = [];

export function subscribe(name: string, onMessage: (message: unknown, name: string | symbol) => void): void {
  const channel = dc.channel(name);
  channel.subscribe(onMessage);
  held.push(channel);
}
