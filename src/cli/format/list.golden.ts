/**
 * Golden outputs of `docker images --format FORMAT` (docker CLI 28.2.2 against dockerd 20.10), recorded with
 * the rows below (`docker images --format json`, all created "About a minute ago").
 */
export const IMAGE_ROWS: Array<Record<string, string>> = [
  {
    Containers: 'N/A',
    CreatedAt: '2026-11-22 10:36:11 +0000 UTC',
    CreatedSince: 'About a minute ago',
    Digest: '<none>',
    ID: 'c5ea509bcbc0',
    Repository: 'b',
    SharedSize: 'N/A',
    Size: '1.98MB',
    Tag: 'latest',
    UniqueSize: 'N/A',
    VirtualSize: '1.982MB',
  },
  {
    Containers: 'N/A',
    CreatedAt: '2026-11-22 10:36:10 +0000 UTC',
    CreatedSince: 'About a minute ago',
    Digest: '<none>',
    ID: '379250812a88',
    Repository: 'registry.example.com:5000/team/a-much-longer-repository-name',
    SharedSize: 'N/A',
    Size: '1.98MB',
    Tag: '2024.01-rc.1',
    UniqueSize: 'N/A',
    VirtualSize: '1.982MB',
  },
  {
    Containers: 'N/A',
    CreatedAt: '2026-11-22 10:36:09 +0000 UTC',
    CreatedSince: 'About a minute ago',
    Digest: '<none>',
    ID: '6d7386fdb8e4',
    Repository: 'alpha',
    SharedSize: 'N/A',
    Size: '1.98MB',
    Tag: '1',
    UniqueSize: 'N/A',
    VirtualSize: '1.982MB',
  },
];

export const IMAGE_HEADERS: Record<string, string> = {
  ID: 'IMAGE ID',
  Repository: 'REPOSITORY',
  Tag: 'TAG',
  Digest: 'DIGEST',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  Size: 'SIZE',
  Containers: 'CONTAINERS',
  VirtualSize: 'SIZE',
  SharedSize: 'SHARED SIZE',
  UniqueSize: 'UNIQUE SIZE',
};

export const IMAGE_DEFAULT_TABLE = 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';

export const IMAGE_CASES: Array<{ format: string; empty?: boolean; out?: string; error?: string }> = [
  {
    format: '',
    out: 'REPOSITORY                                                     TAG            IMAGE ID       CREATED              SIZE\nb                                                              latest         c5ea509bcbc0   About a minute ago   1.98MB\nregistry.example.com:5000/team/a-much-longer-repository-name   2024.01-rc.1   379250812a88   About a minute ago   1.98MB\nalpha                                                          1              6d7386fdb8e4   About a minute ago   1.98MB\n',
  },
  {
    format: 'table',
    out: 'REPOSITORY                                                     TAG            IMAGE ID       CREATED              SIZE\nb                                                              latest         c5ea509bcbc0   About a minute ago   1.98MB\nregistry.example.com:5000/team/a-much-longer-repository-name   2024.01-rc.1   379250812a88   About a minute ago   1.98MB\nalpha                                                          1              6d7386fdb8e4   About a minute ago   1.98MB\n',
  },
  {
    format: 'table {{.Repository}}\\t{{.Tag}}',
    out: 'REPOSITORY                                                     TAG\nb                                                              latest\nregistry.example.com:5000/team/a-much-longer-repository-name   2024.01-rc.1\nalpha                                                          1\n',
  },
  {
    format: 'table {{.Repository}}\\t{{.Tag}}\\t',
    out: 'REPOSITORY                                                     TAG            \nb                                                              latest         \nregistry.example.com:5000/team/a-much-longer-repository-name   2024.01-rc.1   \nalpha                                                          1              \n',
  },
  {
    format: 'table {{.ID}}\\t{{.Repository | lower}}\\t{{pad .Tag 2 3}}|{{truncate .ID 3}}',
    out: 'IMAGE ID       REPOSITORY                                                       TAG   |IMAGE ID\nc5ea509bcbc0   b                                                                latest   |c5e\n379250812a88   registry.example.com:5000/team/a-much-longer-repository-name     2024.01-rc.1   |379\n6d7386fdb8e4   alpha                                                            1   |6d7\n',
  },
  {
    format: 'json',
    out: '{"Containers":"N/A","CreatedAt":"2026-11-22 10:36:11 +0000 UTC","CreatedSince":"About a minute ago","Digest":"\\u003cnone\\u003e","ID":"c5ea509bcbc0","Repository":"b","SharedSize":"N/A","Size":"1.98MB","Tag":"latest","UniqueSize":"N/A","VirtualSize":"1.982MB"}\n{"Containers":"N/A","CreatedAt":"2026-11-22 10:36:10 +0000 UTC","CreatedSince":"About a minute ago","Digest":"\\u003cnone\\u003e","ID":"379250812a88","Repository":"registry.example.com:5000/team/a-much-longer-repository-name","SharedSize":"N/A","Size":"1.98MB","Tag":"2024.01-rc.1","UniqueSize":"N/A","VirtualSize":"1.982MB"}\n{"Containers":"N/A","CreatedAt":"2026-11-22 10:36:09 +0000 UTC","CreatedSince":"About a minute ago","Digest":"\\u003cnone\\u003e","ID":"6d7386fdb8e4","Repository":"alpha","SharedSize":"N/A","Size":"1.98MB","Tag":"1","UniqueSize":"N/A","VirtualSize":"1.982MB"}\n',
  },
  {
    format: '{{json .}}',
    out: '{"Containers":"N/A","CreatedAt":"2026-11-22 10:36:11 +0000 UTC","CreatedSince":"About a minute ago","Digest":"\\u003cnone\\u003e","ID":"c5ea509bcbc0","Repository":"b","SharedSize":"N/A","Size":"1.98MB","Tag":"latest","UniqueSize":"N/A","VirtualSize":"1.982MB"}\n{"Containers":"N/A","CreatedAt":"2026-11-22 10:36:10 +0000 UTC","CreatedSince":"About a minute ago","Digest":"\\u003cnone\\u003e","ID":"379250812a88","Repository":"registry.example.com:5000/team/a-much-longer-repository-name","SharedSize":"N/A","Size":"1.98MB","Tag":"2024.01-rc.1","UniqueSize":"N/A","VirtualSize":"1.982MB"}\n{"Containers":"N/A","CreatedAt":"2026-11-22 10:36:09 +0000 UTC","CreatedSince":"About a minute ago","Digest":"\\u003cnone\\u003e","ID":"6d7386fdb8e4","Repository":"alpha","SharedSize":"N/A","Size":"1.98MB","Tag":"1","UniqueSize":"N/A","VirtualSize":"1.982MB"}\n',
  },
  {
    format: '{{.Repository}}:{{.Tag}}',
    out: 'b:latest\nregistry.example.com:5000/team/a-much-longer-repository-name:2024.01-rc.1\nalpha:1\n',
  },
  {
    format: '{{printf "%-10s|" .Repository}}',
    out: 'b         |\nregistry.example.com:5000/team/a-much-longer-repository-name|\nalpha     |\n',
  },
  {
    format: 'table {{.Repository}}\\n{{.Tag}}\\t{{.ID}}',
    out: 'REPOSITORY\nTAG       IMAGE ID\nb\nlatest    c5ea509bcbc0\nregistry.example.com:5000/team/a-much-longer-repository-name\n2024.01-rc.1   379250812a88\nalpha\n1         6d7386fdb8e4\n',
  },
  {
    format: 'table {{json .Tag}}\\t{{upper .Tag}}\\t{{title .Repository}}\\t{{split .Repository "/"}}',
    out: 'TAG              TAG            REPOSITORY                                                     REPOSITORY\n"latest"         LATEST         B                                                              [b]\n"2024.01-rc.1"   2024.01-RC.1   Registry.Example.Com:5000/Team/A-Much-Longer-Repository-Name   [registry.example.com:5000 team a-much-longer-repository-name]\n"1"              1              Alpha                                                          [alpha]\n',
  },
  {
    format: 'table {{json .}}',
    out: '\n{"Containers":"N/A","CreatedAt":"2026-11-22 10:36:11 +0000 UTC","CreatedSince":"About a minute ago","Digest":"\\u003cnone\\u003e","ID":"c5ea509bcbc0","Repository":"b","SharedSize":"N/A","Size":"1.98MB","Tag":"latest","UniqueSize":"N/A","VirtualSize":"1.982MB"}\n{"Containers":"N/A","CreatedAt":"2026-11-22 10:36:10 +0000 UTC","CreatedSince":"About a minute ago","Digest":"\\u003cnone\\u003e","ID":"379250812a88","Repository":"registry.example.com:5000/team/a-much-longer-repository-name","SharedSize":"N/A","Size":"1.98MB","Tag":"2024.01-rc.1","UniqueSize":"N/A","VirtualSize":"1.982MB"}\n{"Containers":"N/A","CreatedAt":"2026-11-22 10:36:09 +0000 UTC","CreatedSince":"About a minute ago","Digest":"\\u003cnone\\u003e","ID":"6d7386fdb8e4","Repository":"alpha","SharedSize":"N/A","Size":"1.98MB","Tag":"1","UniqueSize":"N/A","VirtualSize":"1.982MB"}\n',
  },
  { format: '  table {{.ID}}', out: 'table c5ea509bcbc0\ntable 379250812a88\ntable 6d7386fdb8e4\n' },
  {
    format: 'table {{.Foo}}',
    error:
      'template parsing error: template: :1:2: executing "" at <.Foo>: can\'t evaluate field Foo in type *formatter.imageContext',
  },
  {
    format: '{{.Tag}} {{.Nope}}',
    error:
      'template parsing error: template: :1:11: executing "" at <.Nope>: can\'t evaluate field Nope in type *formatter.imageContext',
  },
  {
    format:
      'table {{.Digest}}\\t{{.CreatedAt}}\\t{{.Containers}}\\t{{.Size}}\\t{{.SharedSize}}\\t{{.UniqueSize}}\\t{{.VirtualSize}}',
    out: 'DIGEST    CREATED AT                      CONTAINERS   SIZE      SHARED SIZE   UNIQUE SIZE   SIZE\n<none>    2026-11-22 10:36:11 +0000 UTC   N/A          1.98MB    N/A           N/A           1.982MB\n<none>    2026-11-22 10:36:10 +0000 UTC   N/A          1.98MB    N/A           N/A           1.982MB\n<none>    2026-11-22 10:36:09 +0000 UTC   N/A          1.98MB    N/A           N/A           1.982MB\n',
  },
  {
    format: 'table {{if eq .Tag "latest"}}L{{else}}{{.Tag}}{{end}}\\t{{.ID}}',
    out: 'TAG            IMAGE ID\nL              c5ea509bcbc0\n2024.01-rc.1   379250812a88\n1              6d7386fdb8e4\n',
  },
  {
    format: 'table {{.Repository}}\\t\\t{{.Tag}}',
    out: 'REPOSITORY                                                               TAG\nb                                                                        latest\nregistry.example.com:5000/team/a-much-longer-repository-name             2024.01-rc.1\nalpha                                                                    1\n',
  },
  { format: 'table    {{.ID}}  ', out: 'IMAGE ID\nc5ea509bcbc0\n379250812a88\n6d7386fdb8e4\n' },
  { format: 'tablefoo {{.Tag}}', out: 'foo TAG\nfoo latest\nfoo 2024.01-rc.1\nfoo 1\n' },
  {
    format: 'table {{.Tag}}\\t{{.Repository}}\\t{{.ID}}',
    out: 'TAG            REPOSITORY                                                     IMAGE ID\nlatest         b                                                              c5ea509bcbc0\n2024.01-rc.1   registry.example.com:5000/team/a-much-longer-repository-name   379250812a88\n1              alpha                                                          6d7386fdb8e4\n',
  },
  { format: '{{.Tag}}\\t{{.ID}}', out: 'latest\tc5ea509bcbc0\n2024.01-rc.1\t379250812a88\n1\t6d7386fdb8e4\n' },
  {
    format: 'table {{with .Tag}}{{.}}{{end}}\\t{{len .Tag}}',
    out: 'TAG            3\nlatest         6\n2024.01-rc.1   12\n1              1\n',
  },
  { format: '{{foo}}', error: 'template parsing error: template: :1: function "foo" not defined' },
  { format: '', empty: true, out: 'REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n' },
  { format: 'table {{.Repository}}\\t{{.Tag}}', empty: true, out: 'REPOSITORY   TAG\n' },
  { format: '{{.Tag}}', empty: true, out: '' },
  { format: 'json', empty: true, out: '' },
];
