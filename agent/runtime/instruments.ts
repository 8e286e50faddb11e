// Observable instruments for the runtime metrics, created from the catalogue so names, units and
// descriptions are the ones docs and rules read.
import type { Meter, Observable } from '@opentelemetry/api';
import type { MetricDef } from '../../exporters/catalogue.js';

export function observable(meter: Meter, def: MetricDef): Observable {
  const options = { unit: def.unit, description: def.description };
  switch (def.kind) {
    case 'counter':
      return meter.createObservableCounter(def.name, options);
    case 'updowncounter':
      return meter.createObservableUpDownCounter(def.name, options);
    default:
      return meter.createObservableGauge(def.name, options);
  }
}
