// GraphQL Code Generator over the server's schema with the scalar mapping
// the README documents. `strictScalars` fails the run when the schema gains
// a scalar this mapping does not name, so no scalar is ever typed `any`.
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: '../../schema.graphql',
  documents: 'operations/**/*.graphql',
  generates: {
    'generated/graphql.ts': {
      plugins: [
        {
          add: {
            content: [
              '/** Any JSON value, as the JSON scalar carries it. */',
              'export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };',
            ],
          },
        },
        'typescript',
        'typescript-operations',
      ],
      config: {
        strictScalars: true,
        scalars: {
          Long: 'number',
          Decimal: 'string',
          DateTime: 'string',
          JSON: 'JsonValue',
        },
      },
    },
  },
};

export default config;
