/**
 * The one way this code makes a metric: on the registry given (the process registry,
 * observability/metrics.ts, or a test's own), once per registry and name. Asked again for a name the
 * registry holds, it returns the metric already there, so code that runs more than once in a process
 * (the API built twice, several workers started: tests do both) shares one set instead of failing on
 * a second registration. Names and labels stay beside the code they measure.
 */
import {
  Counter,
  Gauge,
  Histogram,
  type CounterConfiguration,
  type GaugeConfiguration,
  type HistogramConfiguration,
  type Registry,
} from 'prom-client';

type Config<C> = Omit<C, 'registers'>;

export interface MetricFactory {
  counter<L extends string = string>(config: Config<CounterConfiguration<L>>): Counter<L>;
  gauge<L extends string = string>(config: Config<GaugeConfiguration<L>>): Gauge<L>;
  histogram<L extends string = string>(config: Config<HistogramConfiguration<L>>): Histogram<L>;
}

export function metricsOn(registry: Registry): MetricFactory {
  const existing = <M>(name: string) => registry.getSingleMetric(name) as M | undefined;
  return {
    counter: <L extends string>(config: Config<CounterConfiguration<L>>) =>
      existing<Counter<L>>(config.name) ?? new Counter<L>({ ...config, registers: [registry] }),
    gauge: <L extends string>(config: Config<GaugeConfiguration<L>>) =>
      existing<Gauge<L>>(config.name) ?? new Gauge<L>({ ...config, registers: [registry] }),
    histogram: <L extends string>(config: Config<HistogramConfiguration<L>>) =>
      existing<Histogram<L>>(config.name) ?? new Histogram<L>({ ...config, registers: [registry] }),
  };
}
