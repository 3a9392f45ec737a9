# Edges and direct deps of a Gemfile.lock by Bundler's own parser: JSON {roots, edges} by name@version.
require "bundler"
require "json"
lock = Bundler::LockfileParser.new(File.read(ARGV[0]))
ver = {}
lock.specs.each { |s| ver[s.name] = s.version.to_s }
edges = []
lock.specs.each do |s|
  s.dependencies.each do |d|
    edges << ["#{s.name}@#{s.version}", "#{d.name}@#{ver[d.name]}"] if ver[d.name]
  end
end
roots = lock.dependencies.keys.select { |n| ver[n] }.map { |n| "#{n}@#{ver[n]}" }
puts JSON.generate({ "roots" => roots.sort.uniq, "edges" => edges.sort.uniq })
